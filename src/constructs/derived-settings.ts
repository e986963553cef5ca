/** What one queue's settings are derived from (seconds and counts). */
export interface QueueSettingsInput {
  /** The longest a task on this queue may run (1..870 s). */
  readonly hardTimeoutSeconds: number;
  /** Records per invocation (1..10,000; above 10 needs a batching window). */
  readonly batchSize: number;
  /** Seconds the event source may wait to fill a batch (0..300). */
  readonly maxBatchingWindowSeconds: number;
  /** Concurrent invocations of the worker (2..1,000). */
  readonly maxConcurrency: number;
  /** The worker's memory, in MB (128..10,240). */
  readonly memorySize: number;
}

/** The numbers a queue's resources are built with. */
export interface DerivedQueueSettings {
  /** The worker's timeout: hard timeout + 30 s, so the task is stopped and recorded before Lambda stops it. */
  readonly functionTimeoutSeconds: number;
  /** 6 × function timeout + batching window (the AWS recommendation for SQS event sources), at most 12 h. */
  readonly visibilityTimeoutSeconds: number;
  /** The backlog alarm threshold: twice the function timeout. */
  readonly oldestMessageAlarmSeconds: number;
}

/** Seconds added to the hard timeout to make the Lambda timeout. */
export const FUNCTION_TIMEOUT_MARGIN_SECONDS = 30;
/** The largest hard timeout: 900 s (Lambda's maximum) − the margin. */
export const MAX_QUEUE_HARD_TIMEOUT_SECONDS = 900 - FUNCTION_TIMEOUT_MARGIN_SECONDS;
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`LambdaTasksQueue: ${message}`);
}

const isInt = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;

/**
 * Derives a queue's function timeout, visibility timeout and alarm threshold, validating its settings
 * (a pure function; every error has a fixed message naming the queue and the setting).
 */
export function deriveQueueSettings(queue: string, input: QueueSettingsInput): DerivedQueueSettings {
  check(isInt(input.hardTimeoutSeconds, 1, MAX_QUEUE_HARD_TIMEOUT_SECONDS), `queues.${queue}.hardTimeout must be a whole number of seconds from 1 to ${MAX_QUEUE_HARD_TIMEOUT_SECONDS}`);
  check(isInt(input.batchSize, 1, 10_000), `queues.${queue}.batchSize must be from 1 to 10000`);
  check(isInt(input.maxBatchingWindowSeconds, 0, 300), `queues.${queue}.maxBatchingWindow must be a whole number of seconds from 0 to 300`);
  check(input.batchSize <= 10 || input.maxBatchingWindowSeconds >= 1, `queues.${queue}.batchSize above 10 needs a maxBatchingWindow of at least 1 second`);
  check(isInt(input.maxConcurrency, 2, 1000), `queues.${queue}.maxConcurrency must be from 2 to 1000`);
  check(isInt(input.memorySize, 128, 10_240), `queues.${queue}.memorySize must be from 128 to 10240 MB`);
  const functionTimeoutSeconds = input.hardTimeoutSeconds + FUNCTION_TIMEOUT_MARGIN_SECONDS;
  const visibilityTimeoutSeconds = 6 * functionTimeoutSeconds + input.maxBatchingWindowSeconds;
  check(visibilityTimeoutSeconds <= MAX_VISIBILITY_SECONDS, `queues.${queue}: the visibility timeout would exceed 12 hours`);
  return { functionTimeoutSeconds, visibilityTimeoutSeconds, oldestMessageAlarmSeconds: 2 * functionTimeoutSeconds };
}
