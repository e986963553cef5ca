// The consumer test's SQS side, against fauxqs (run with the project as cwd, so the SDK is the project's own):
//   node sqs-driver.mjs prepare <cdk.out> <endpoint> <queue name prefix> <out dir>
//       finds the worker Lambda in the synthesized template, creates its queues (and DLQs) on fauxqs with the
//       template's settings, and writes <out dir>/worker.json: the asset, the function's environment with
//       every token resolved to the local queues, its timeout and logging settings.
//   node sqs-driver.mjs receive <out dir>
//       receives the one message the app sent and writes <out dir>/event.json, the SQS event the Lambda event
//       source would hand the worker (the body exactly as sent).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

// The SDK as the app has it: a dependency of cdk-lambda-tasks.
const requireFromLibrary = createRequire(createRequire(path.join(process.cwd(), 'package.json')).resolve('cdk-lambda-tasks/package.json'));
const { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } = requireFromLibrary('@aws-sdk/client-sqs');

const REGION = 'us-east-1';
const QUEUES_ENV = 'LAMBDA_TASKS_QUEUES';

function client(endpoint) {
  return new SQSClient({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

function fail(message) {
  console.error(`sqs-driver: ${message}`);
  process.exit(1);
}

/** Resolves a CloudFormation value whose only tokens are Fn::Join and Ref to the given resources. */
function resolveValue(value, refs, where) {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object' && 'Ref' in value) {
    if (!(value.Ref in refs)) fail(`${where}: Ref to ${value.Ref}, which this test cannot resolve locally`);
    return refs[value.Ref];
  }
  if (value && typeof value === 'object' && 'Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'];
    return parts.map((part) => resolveValue(part, refs, where)).join(separator);
  }
  return fail(`${where}: unsupported token ${JSON.stringify(value)}`);
}

async function prepare(cdkOut, endpoint, prefix, outDir) {
  const templates = readdirSync(cdkOut).filter((f) => f.endsWith('.template.json'));
  const workers = [];
  let resources = {};
  for (const file of templates) {
    const template = JSON.parse(readFileSync(path.join(cdkOut, file), 'utf8'));
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type === 'AWS::Lambda::Function' && resource.Properties?.Environment?.Variables?.[QUEUES_ENV] !== undefined) {
        workers.push({ id, resource, template: file });
        resources = template.Resources;
      }
    }
  }
  if (workers.length !== 1) fail(`expected one worker function (with ${QUEUES_ENV}) in ${cdkOut}, found ${workers.length}`);
  const [{ id: workerId, resource: worker }] = workers;
  const assetDir = worker.Metadata?.['aws:asset:path'];
  if (!assetDir || worker.Metadata['aws:asset:property'] !== 'Code') fail(`${workerId} has no Code asset in its metadata`);
  if (worker.Properties.Handler !== 'index.handler') fail(`${workerId}: unexpected handler ${worker.Properties.Handler}`);

  // The template's queues on fauxqs: dead-letter queues first, then the queues that redrive to them.
  const sqs = client(endpoint);
  const queues = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
  const local = {};
  const create = async (id, props) => {
    const attributes = {};
    for (const name of ['VisibilityTimeout', 'MessageRetentionPeriod', 'MaximumMessageSize', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds']) {
      if (props[name] !== undefined) attributes[name] = String(props[name]);
    }
    if (props.RedrivePolicy) {
      const target = props.RedrivePolicy.deadLetterTargetArn?.['Fn::GetAtt']?.[0];
      if (!local[target]) fail(`${id}: dead-letter target ${JSON.stringify(props.RedrivePolicy.deadLetterTargetArn)} not created first`);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: local[target].arn, maxReceiveCount: props.RedrivePolicy.maxReceiveCount });
    }
    const name = `${prefix}-${id}`.slice(0, 80);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    local[id] = { url: QueueUrl, arn: Attributes.QueueArn };
  };
  for (const [id, r] of queues) if (!r.Properties?.RedrivePolicy) await create(id, r.Properties ?? {});
  for (const [id, r] of queues) if (r.Properties?.RedrivePolicy) await create(id, r.Properties);

  // The worker's environment as the template sets it, queue references resolved to the local queues.
  const refs = Object.fromEntries(Object.entries(local).map(([id, q]) => [id, q.url]));
  const env = {};
  for (const [name, value] of Object.entries(worker.Properties.Environment.Variables)) env[name] = resolveValue(value, refs, `${workerId} ${name}`);
  // What Lambda itself sets from the function's logging configuration.
  const logging = worker.Properties.LoggingConfig ?? {};
  if (logging.LogFormat === 'JSON') env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
  if (logging.ApplicationLogLevel) env.AWS_LAMBDA_LOG_LEVEL = logging.ApplicationLogLevel;

  // The queue this worker consumes: its event source mapping's.
  const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties?.FunctionName?.Ref === workerId);
  if (mappings.length !== 1) fail(`expected one event source mapping for ${workerId}, found ${mappings.length}`);
  const sourceId = mappings[0].Properties.EventSourceArn?.['Fn::GetAtt']?.[0];
  if (!local[sourceId]) fail(`${workerId}'s event source ${JSON.stringify(mappings[0].Properties.EventSourceArn)} is not a queue of the template`);

  const out = {
    workerId,
    runtime: worker.Properties.Runtime,
    asset: path.resolve(cdkOut, assetDir, 'index.js'),
    timeoutSeconds: worker.Properties.Timeout ?? 3,
    memorySize: worker.Properties.MemorySize ?? 128,
    env,
    endpoint,
    queue: local[sourceId],
  };
  writeFileSync(path.join(outDir, 'worker.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ workerId, runtime: out.runtime, queue: out.queue.url, env: Object.keys(env).sort() })}\n`);
}

async function receive(outDir) {
  const worker = JSON.parse(readFileSync(path.join(outDir, 'worker.json'), 'utf8'));
  const sqs = client(worker.endpoint);
  const messages = [];
  const deadline = Date.now() + 10_000;
  while (messages.length === 0 && Date.now() < deadline) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: worker.queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'],
    }));
    messages.push(...(out.Messages ?? []));
  }
  if (messages.length !== 1) fail(`expected the one message the app sent on ${worker.queue.url}, received ${messages.length}`);
  // The record as the Lambda event source builds it from a received message.
  const records = messages.map((m) => ({
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
      SenderId: m.Attributes?.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, {
      dataType: v.DataType ?? 'String', stringValue: v.StringValue, stringListValues: [], binaryListValues: [],
    }])),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: worker.queue.arn,
    awsRegion: REGION,
  }));
  writeFileSync(path.join(outDir, 'event.json'), `${JSON.stringify({ Records: records }, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ messageId: records[0].messageId, body: records[0].body })}\n`);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'prepare') await prepare(...args);
else if (command === 'receive') await receive(...args);
else fail(`unknown command ${command}`);
