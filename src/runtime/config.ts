import type { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod/v4';
import { sqsSdk } from './aws-sdk';
import { MAX_TIMEOUT_SECONDS, QUEUES_ENV } from './contract';
import { ConfigurationError } from './errors';
import type { QueueSettings } from './types';
import { formatZodIssues } from './zod-issues';

/** Options of {@link configureLambdaTasks}; each one falls back to its environment variable, then to its default. */
export interface LambdaTasksOptions {
  /**
   * Queue name → URL, or → `{ url, dlqUrl, maxHardTimeout }` (as `LambdaTasksQueue` writes it). Must include `default` unless eager.
   * @default - `LAMBDA_TASKS_QUEUES` (JSON)
   */
  readonly queues?: Readonly<Record<string, string | QueueSettings>>;
  /**
   * Soft timeout of tasks that set none, in seconds (1..900).
   * @default - `LAMBDA_TASKS_DEFAULT_SOFT_TIMEOUT`, else 270
   */
  readonly defaultSoftTimeout?: number;
  /**
   * Hard timeout of tasks that set none, in seconds (1..900).
   * @default - `LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT`, else 300
   */
  readonly defaultHardTimeout?: number;
  /**
   * Run committed invocations in-process instead of sending them to SQS (development, tests).
   * @default - `LAMBDA_TASKS_EAGER`, else false
   */
  readonly eager?: boolean;
  /**
   * In eager mode, rethrow a task's error from the flush/commit (Celery's `task_eager_propagates`).
   * @default - `LAMBDA_TASKS_EAGER_PROPAGATE`, else false
   */
  readonly eagerPropagate?: boolean;
  /**
   * What a failed send after commit does: `'log'` logs the task ids and leaves the rows for the relay;
   * `'throw'` also rejects the caller's flush/commit with `TaskDispatchError`.
   * @default - `LAMBDA_TASKS_ON_DISPATCH_ERROR`, else 'log'
   */
  readonly onDispatchError?: 'log' | 'throw';
  /**
   * How long, in milliseconds, the outbox may keep a committed caller's flush or commit promise pending: reading
   * back which rows committed, every send (all attempts: each is aborted at the bound) and setting
   * `dispatched_at`, together. What is not done by then is left to the relay (the rows keep `dispatched_at` null).
   * An integer from 100 to 900000. Eager mode runs the tasks themselves and is not bounded by it.
   * @default - `LAMBDA_TASKS_DISPATCH_TIMEOUT_MS`, else 10000
   */
  readonly dispatchTimeoutMs?: number;
  /**
   * The SQS client used for sending.
   * @default - a client from the AWS SDK's default chain (`AWS_ENDPOINT_URL_SQS` is honoured), with a 2 s connection
   * and a 5 s request timeout and 3 attempts; give yours the same kind of timeouts (`requestHandler: { connectionTimeout, requestTimeout }`)
   */
  readonly sqsClient?: SQSClient;
}

/** The validated configuration. */
export interface ResolvedLambdaTasksConfig {
  readonly queues: Readonly<Record<string, QueueSettings>>;
  readonly defaultSoftTimeout: number;
  readonly defaultHardTimeout: number;
  readonly eager: boolean;
  readonly eagerPropagate: boolean;
  readonly onDispatchError: 'log' | 'throw';
  readonly dispatchTimeoutMs: number;
}

/** The default of `dispatchTimeoutMs`: everything after a commit within 10 s, well inside API Gateway's 29 s. */
export const DEFAULT_DISPATCH_TIMEOUT_MS = 10_000;

let options: LambdaTasksOptions = {};
let resolved: ResolvedLambdaTasksConfig | undefined;
let defaultSqsClient: SQSClient | undefined;

/**
 * Configures the runtime in code. Anything not given here is read from the
 * `LAMBDA_TASKS_*` environment variables. Validation happens on first use.
 *
 * @example
 * import { configureLambdaTasks } from 'cdk-lambda-tasks/runtime';
 * configureLambdaTasks({ queues: { default: process.env.TASKS_QUEUE_URL! }, onDispatchError: 'throw' });
 */
export function configureLambdaTasks(newOptions: LambdaTasksOptions): void {
  options = { ...newOptions };
  resolved = undefined;
}

/** Forgets the configuration so the next use reads options and environment again (tests). */
export function resetLambdaTasksConfig(): void {
  options = {};
  resolved = undefined;
  defaultSqsClient = undefined;
}

const timeoutSchema = z.number().int().min(1).max(MAX_TIMEOUT_SECONDS);
const dispatchTimeoutSchema = z.number().int().min(100).max(MAX_TIMEOUT_SECONDS * 1000);
const queueSettingsSchema = z.union([
  z.url(),
  z.strictObject({
    url: z.url().optional(),
    dlqUrl: z.url().optional(),
    maxHardTimeout: timeoutSchema.optional(),
  }),
]);
const queuesSchema = z.record(z.string().min(1), queueSettingsSchema);

function parseField<T>(field: string, schema: z.ZodType<T>, value: unknown, hint: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigurationError(field, `${formatZodIssues(result.error.issues, '')} (${hint})`);
  return result.data;
}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return parseField(name, timeoutSchema, Number.isNaN(value) ? raw : value, 'an integer number of seconds from 1 to 900');
}

function envBoolean(name: string): boolean | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigurationError(name, `"${raw}" is not a boolean (use true or false)`);
}

function envQueues(): Record<string, unknown> | undefined {
  const raw = process.env[QUEUES_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError(QUEUES_ENV, `is not valid JSON (${(error as Error).message}); expected {"default": "https://sqs…"}`);
  }
}

function resolveConfig(): ResolvedLambdaTasksConfig {
  const eager = options.eager ?? envBoolean('LAMBDA_TASKS_EAGER') ?? false;
  const eagerPropagate = options.eagerPropagate ?? envBoolean('LAMBDA_TASKS_EAGER_PROPAGATE') ?? false;
  const softField = options.defaultSoftTimeout !== undefined ? 'defaultSoftTimeout' : 'LAMBDA_TASKS_DEFAULT_SOFT_TIMEOUT';
  const hardField = options.defaultHardTimeout !== undefined ? 'defaultHardTimeout' : 'LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT';
  const hint = 'an integer number of seconds from 1 to 900';
  const defaultSoftTimeout =
    options.defaultSoftTimeout !== undefined ? parseField(softField, timeoutSchema, options.defaultSoftTimeout, hint) : envNumber(softField) ?? 270;
  const defaultHardTimeout =
    options.defaultHardTimeout !== undefined ? parseField(hardField, timeoutSchema, options.defaultHardTimeout, hint) : envNumber(hardField) ?? 300;
  if (defaultSoftTimeout >= defaultHardTimeout) {
    throw new ConfigurationError(softField, `the default soft timeout (${defaultSoftTimeout} s) must be below the default hard timeout (${defaultHardTimeout} s, ${hardField})`);
  }
  const onDispatchErrorRaw = options.onDispatchError ?? process.env.LAMBDA_TASKS_ON_DISPATCH_ERROR ?? 'log';
  const onDispatchError = parseField(
    options.onDispatchError !== undefined ? 'onDispatchError' : 'LAMBDA_TASKS_ON_DISPATCH_ERROR',
    z.enum(['log', 'throw']),
    onDispatchErrorRaw,
    "use 'log' or 'throw'",
  );

  const dispatchField = options.dispatchTimeoutMs !== undefined ? 'dispatchTimeoutMs' : 'LAMBDA_TASKS_DISPATCH_TIMEOUT_MS';
  const dispatchRaw = options.dispatchTimeoutMs ?? process.env.LAMBDA_TASKS_DISPATCH_TIMEOUT_MS?.trim();
  const dispatchTimeoutMs = dispatchRaw === undefined || dispatchRaw === ''
    ? DEFAULT_DISPATCH_TIMEOUT_MS
    : parseField(dispatchField, dispatchTimeoutSchema, typeof dispatchRaw === 'string' && /^\d+$/.test(dispatchRaw) ? Number(dispatchRaw) : dispatchRaw,
      'an integer number of milliseconds from 100 to 900000');

  const queuesField = options.queues !== undefined ? 'queues' : QUEUES_ENV;
  const rawQueues = options.queues ?? envQueues();
  let queues: Record<string, QueueSettings> = {};
  if (rawQueues === undefined) {
    if (!eager) {
      throw new ConfigurationError(queuesField, 'is not set: give at least {"default": "<SQS queue URL>"} (or enable eager mode for development)');
    }
  } else {
    const parsed = parseField(queuesField, queuesSchema, rawQueues, 'a JSON object of queue name → URL or {url, dlqUrl, maxHardTimeout}');
    queues = Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name, typeof value === 'string' ? { url: value } : value]));
    if (!eager) {
      for (const [name, settings] of Object.entries(queues)) {
        if (!settings.url) throw new ConfigurationError(`${queuesField}.${name}`, 'has no url (only eager mode runs without queue URLs)');
      }
    }
  }
  if (!queues.default) {
    if (!eager) throw new ConfigurationError(queuesField, 'must include a "default" queue');
    queues = { default: {}, ...queues };
  }
  return { queues, defaultSoftTimeout, defaultHardTimeout, eager, eagerPropagate, onDispatchError, dispatchTimeoutMs };
}

/** The validated configuration, resolved from options and environment on first use. Throws `ConfigurationError`. */
export function getLambdaTasksConfig(): ResolvedLambdaTasksConfig {
  resolved ??= resolveConfig();
  return resolved;
}

/** The settings of a named queue; unknown names throw `ConfigurationError` naming the known ones. */
export function getQueueSettings(queue: string): QueueSettings {
  const { queues } = getLambdaTasksConfig();
  const settings = queues[queue];
  if (!settings) {
    throw new ConfigurationError('queue', `unknown queue "${queue}"; configured queues: ${Object.keys(queues).join(', ')}`);
  }
  return settings;
}

/** The configured queues, or none when the runtime is not configured (callers that can fall back use it). */
export function configuredQueuesOrNone(): Readonly<Record<string, QueueSettings>> {
  try {
    return getLambdaTasksConfig().queues;
  } catch {
    return {};
  }
}

/**
 * The connection and request timeouts of the SQS client the library creates (milliseconds), so no send can
 * hang a worker: an endpoint that accepts connections and never answers fails after 5 s per attempt
 * (3 attempts). Sends after a commit are bounded by `dispatchTimeoutMs` as well, whichever client sends them.
 * A client passed as `sqsClient` should set its own (`requestHandler: { … }`).
 */
export const SQS_REQUEST_TIMEOUTS = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true } as const;

/** The SQS client: the configured one, else one built once from the SDK's default chain. */
export function getSqsClient(): SQSClient {
  if (options.sqsClient) return options.sqsClient;
  defaultSqsClient ??= new (sqsSdk().SQSClient)({ requestHandler: SQS_REQUEST_TIMEOUTS, maxAttempts: 3 });
  return defaultSqsClient;
}
