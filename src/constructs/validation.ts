import { Token } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { QUEUE_NAME_PATTERN, SECRET_NAME_PATTERN } from '../runtime/contract';

function fail(message: string): never {
  throw new Error(`LambdaTasksQueue: ${message}`);
}

/** Checks the queue names: a `default` queue, and names the runtime accepts. */
export function validateQueueNames(names: readonly string[]): void {
  if (!names.includes('default')) fail('queues must include a "default" queue');
  for (const name of names) {
    if (!QUEUE_NAME_PATTERN.test(name)) fail(`queue name "${name}" must be 1 to 40 letters, digits, _ or -`);
  }
}

/** Checks the secret names: environment variable names that are not reserved. */
export function validateSecretNames(names: readonly string[], environment: Readonly<Record<string, string>>): void {
  for (const name of names) {
    if (!SECRET_NAME_PATTERN.test(name)) fail(`secret name "${name}" must be an environment variable name: upper-case letters, digits and _`);
    if (name.startsWith('AWS_') || name.startsWith('LAMBDA_')) fail(`secret name "${name}" is reserved (AWS_ and LAMBDA_ prefixes)`);
    if (name in environment) fail(`secret name "${name}" is also set in environment: set one or the other`);
  }
}

/** Refuses Node.js 20 and older: the runtime is written for Node.js 22+ on Lambda (and Node.js 20 is end-of-life). */
export function validateRuntime(runtime: Runtime): void {
  const match = /^nodejs(\d+)\.x$/.exec(runtime.name);
  if (!match) fail(`runtime must be a Node.js runtime, got ${runtime.name}`);
  if (Number(match[1]) < 22) fail(`runtime ${runtime.name} is not supported: use Runtime.NODEJS_22_X or newer (the default is Runtime.NODEJS_24_X)`);
}

/** Lambda's limit on the total size of a function's environment variables. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
/** The size counted for a value only known at deploy time (a queue URL or a secret ARN). */
const UNRESOLVED_VALUE_BYTES = 128;

/** Checks Lambda's 4 KB environment limit, counting each token as a typical resolved length. */
export function validateEnvironmentSize(environment: Readonly<Record<string, string>>): void {
  let bytes = 0;
  for (const [key, value] of Object.entries(environment)) {
    const tokens = Token.isUnresolved(value) ? (value.match(/\$\{Token\[[^\]]+\]\}/g) ?? []) : [];
    const literal = tokens.reduce((text, token) => text.replace(token, ''), value);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(literal) + tokens.length * UNRESOLVED_VALUE_BYTES;
  }
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    fail(`the worker environment would be about ${bytes} bytes; Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} (fewer secrets or shorter variables)`);
  }
}
