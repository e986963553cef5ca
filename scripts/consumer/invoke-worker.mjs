// Runs the synthesized worker asset as Lambda would: node invoke-worker.mjs <worker.json> <event.json> <task root>
// <task root> holds a copy of the asset (outside the project, so only what is bundled, plus NODE_PATH's
// runtime modules, can be loaded). Sets the function's environment from the template (worker.json, written
// by sqs-driver.mjs prepare) over this process's own, loads <task root>/index.js, calls its `handler` with
// the SQS event and a context that counts down from the function's timeout, and prints the response.
// Exit 1 unless every record was handled.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const [workerFile, eventFile, taskRoot] = process.argv.slice(2);
const worker = JSON.parse(readFileSync(workerFile, 'utf8'));
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
Object.assign(process.env, worker.env);

const started = Date.now();
const deadline = started + worker.timeoutSeconds * 1000;
const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: worker.workerId,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${worker.workerId}`,
  memoryLimitInMB: String(worker.memorySize),
  awsRequestId: `consumer-test-${process.pid}`,
  logGroupName: `/aws/lambda/${worker.workerId}`,
  logStreamName: 'consumer-test',
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

const entry = path.resolve(taskRoot, 'index.js');
const mod = createRequire(import.meta.url)(entry);
const loadMs = Date.now() - started;
if (typeof mod.handler !== 'function') {
  console.error(`invoke-worker: ${entry} exports no handler function (exports: ${Object.keys(mod).join(', ')})`);
  process.exit(1);
}
let response;
try {
  response = await mod.handler(event, context);
} finally {
  await mod.handler.close?.();
}
process.stdout.write(`${JSON.stringify({ loadMs, invokeMs: Date.now() - started - loadMs, response })}\n`);
const failures = response?.batchItemFailures;
if (!Array.isArray(failures) || failures.length > 0) {
  console.error(`invoke-worker: the handler did not handle every record: ${JSON.stringify(response)}`);
  process.exit(1);
}
