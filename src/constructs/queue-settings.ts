import { failSynth } from './synth-error';
import type { TaskQueueOptions } from './types';
import { DEFAULT_QUEUE_HARD_TIMEOUT_SECONDS, FUNCTION_TIMEOUT_MARGIN_SECONDS, MAX_QUEUE_HARD_TIMEOUT_SECONDS } from '../runtime/contract';

const DEFAULT_BATCH_SIZE = 10;
const DEFAULT_MAX_CONCURRENCY = 2;
const DEFAULT_MEMORY_SIZE_MB = 512;

/** Every number one queue's resources are built with (seconds, counts and MB), defaults applied. */
export interface DerivedQueueSettings {
  /** The longest a task on this queue may run (`maxHardTimeout` in `LAMBDA_TASKS_QUEUES`). */
  readonly hardTimeoutSeconds: number;
  /** Records per invocation. */
  readonly batchSize: number;
  /** Seconds the event source may wait to fill a batch (0: none). */
  readonly maxBatchingWindowSeconds: number;
  /** Concurrent invocations of the worker. */
  readonly maxConcurrency: number;
  /** The worker's memory, in MB. */
  readonly memorySize: number;
  /** The worker's timeout: hard timeout + 30 s, so the task is stopped and recorded before Lambda stops it. */
  readonly functionTimeoutSeconds: number;
  /** 6 × function timeout + batching window (the AWS recommendation for SQS event sources). */
  readonly visibilityTimeoutSeconds: number;
  /** The backlog alarm threshold: twice the function timeout. */
  readonly oldestMessageAlarmSeconds: number;
}

function check(ok: boolean, message: string): void {
  if (!ok) failSynth(message);
}

const isInt = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;

/**
 * Applies a queue's defaults (hard timeout 5 minutes, batches of 10, no batching window, 2 concurrent
 * invocations, 512 MB), validates the result and derives the worker's timeout, the queue's visibility
 * timeout and the backlog alarm threshold. A pure function; each error has a fixed message naming the
 * queue and the setting; durations are read without rounding, so a fraction of a second gets the construct's
 * own message rather than CDK's. (The bounds keep the visibility timeout at most 6 × 900 + 300 s, far below
 * SQS's 12 hours.)
 *
 * @example
 * import { Duration } from 'aws-cdk-lib';
 * import { deriveQueueSettings } from './queue-settings';
 *
 * const settings = deriveQueueSettings('reports', { hardTimeout: Duration.minutes(10) });
 * settings.functionTimeoutSeconds; // 630
 */
export function deriveQueueSettings(name: string, options: TaskQueueOptions): DerivedQueueSettings {
  const hardTimeoutSeconds = options.hardTimeout?.toSeconds({ integral: false }) ?? DEFAULT_QUEUE_HARD_TIMEOUT_SECONDS;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxBatchingWindowSeconds = options.maxBatchingWindow?.toSeconds({ integral: false }) ?? 0;
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  const memorySize = options.memorySize ?? DEFAULT_MEMORY_SIZE_MB;
  check(isInt(hardTimeoutSeconds, 1, MAX_QUEUE_HARD_TIMEOUT_SECONDS), `queues.${name}.hardTimeout must be a whole number of seconds from 1 to ${MAX_QUEUE_HARD_TIMEOUT_SECONDS}`);
  check(isInt(batchSize, 1, 10_000), `queues.${name}.batchSize must be from 1 to 10000`);
  check(isInt(maxBatchingWindowSeconds, 0, 300), `queues.${name}.maxBatchingWindow must be a whole number of seconds from 0 to 300`);
  check(batchSize <= 10 || maxBatchingWindowSeconds >= 1, `queues.${name}.batchSize above 10 needs a maxBatchingWindow of at least 1 second`);
  check(isInt(maxConcurrency, 2, 1000), `queues.${name}.maxConcurrency must be from 2 to 1000`);
  check(isInt(memorySize, 128, 10_240), `queues.${name}.memorySize must be from 128 to 10240 MB`);
  const functionTimeoutSeconds = hardTimeoutSeconds + FUNCTION_TIMEOUT_MARGIN_SECONDS;
  return {
    hardTimeoutSeconds,
    batchSize,
    maxBatchingWindowSeconds,
    maxConcurrency,
    memorySize,
    functionTimeoutSeconds,
    visibilityTimeoutSeconds: 6 * functionTimeoutSeconds + maxBatchingWindowSeconds,
    oldestMessageAlarmSeconds: 2 * functionTimeoutSeconds,
  };
}
