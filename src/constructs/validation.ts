import { SizeRoundingBehavior, Token, type Size } from 'aws-cdk-lib';
import { LoggingFormat, type ApplicationLogLevel, type Runtime, type SystemLogLevel } from 'aws-cdk-lib/aws-lambda';
import { failSynth } from './synth-error';
import { CONSTRUCT_ENVIRONMENT_NAMES } from './worker-environment';
import { QUEUE_NAME_PATTERN, SECRET_ENV_PREFIX, SECRET_NAME_PATTERN } from '../runtime/contract';

/** Checks the queue names: a `default` queue, and names the runtime accepts. */
export function validateQueueNames(names: readonly string[]): void {
  if (!names.includes('default')) failSynth('queues must include a "default" queue');
  for (const name of names) {
    if (!QUEUE_NAME_PATTERN.test(name)) failSynth(`queue name "${name}" must be 1 to 40 letters, digits, _ or -`);
  }
}

/** An environment given to the construct, named as in the props (`environment`, `queues.<name>.environment`). */
export type NamedEnvironment = readonly [label: string, environment: Readonly<Record<string, string>>];

/** Checks the secret names: environment variable names that are not reserved and not also set in an environment. */
export function validateSecretNames(names: readonly string[], environments: readonly NamedEnvironment[]): void {
  for (const name of names) {
    if (!SECRET_NAME_PATTERN.test(name)) failSynth(`secret name "${name}" must be an environment variable name: upper-case letters, digits and _`);
    if (name.startsWith('AWS_') || name.startsWith('LAMBDA_')) failSynth(`secret name "${name}" is reserved (AWS_ and LAMBDA_ prefixes)`);
    for (const [label, environment] of environments) {
      if (name in environment) failSynth(`secret name "${name}" is also set in ${label}: set one or the other`);
    }
  }
}

/** Variables Lambda sets and refuses in a function's configuration. */
const LAMBDA_RESERVED_NAMES: readonly string[] = [
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
];

/**
 * Checks the names of an environment given to the construct (the shared one and each queue's): none of the
 * variables the construct sets itself, none that Lambda reserves. (`NODE_OPTIONS` is allowed: with
 * `sourceMap` the construct appends its flag.)
 */
export function validateEnvironmentNames([label, environment]: NamedEnvironment): void {
  for (const name of Object.keys(environment)) {
    if (CONSTRUCT_ENVIRONMENT_NAMES.includes(name) || name.startsWith(SECRET_ENV_PREFIX)) {
      failSynth(`${label} sets "${name}", which the construct sets itself (${[...CONSTRUCT_ENVIRONMENT_NAMES, `${SECRET_ENV_PREFIX}*`].join(', ')})`);
    }
    if (LAMBDA_RESERVED_NAMES.includes(name)) failSynth(`${label} sets "${name}", which Lambda reserves`);
  }
}

/** Refuses Node.js 20 and older: the runtime is written for Node.js 22+ on Lambda (and Node.js 20 is end-of-life). */
export function validateRuntime(runtime: Runtime): void {
  const match = /^nodejs(\d+)\.x$/.exec(runtime.name);
  if (!match) failSynth(`runtime must be a Node.js runtime, got ${runtime.name}`);
  if (Number(match[1]) < 22) failSynth(`runtime ${runtime.name} is not supported: use Runtime.NODEJS_22_X or newer (the default is Runtime.NODEJS_24_X)`);
}

/** Refuses log levels without Lambda's JSON log format: Lambda filters by level only in that format. */
export function validateLogging(loggingFormat?: LoggingFormat, applicationLogLevel?: ApplicationLogLevel, systemLogLevel?: SystemLogLevel): void {
  if ((applicationLogLevel !== undefined || systemLogLevel !== undefined) && loggingFormat !== LoggingFormat.JSON) {
    failSynth('applicationLogLevelV2 and systemLogLevelV2 need loggingFormat: LoggingFormat.JSON (Lambda filters log levels only in its JSON format)');
  }
}

/** Checks the workers' /tmp size: a whole number of MiB from 512 to 10240 (Lambda's range). */
export function validateEphemeralStorageSize(size?: Size): void {
  if (size === undefined || size.isUnresolved()) return;
  const mebibytes = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  if (!Number.isInteger(mebibytes) || mebibytes < 512 || mebibytes > 10_240) failSynth('ephemeralStorageSize must be a whole number of MiB from 512 to 10240');
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
    failSynth(`the worker environment would be about ${bytes} bytes; Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} (fewer secrets or shorter variables)`);
  }
}
