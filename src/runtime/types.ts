/**
 * Public types of the runtime.
 *
 * Terminology:
 * - **task**: a definition made with `lambdaTask()`: name, argument schema, options, function.
 * - **invocation**: one call of a task with arguments (`executeOnCommit`, `serialize`).
 * - **task record**: the `task_record` row of one invocation's attempt (`TaskRecord`).
 * - **queue**: a named SQS standard queue with its dead-letter queue and worker.
 * - **worker**: the Lambda function (or `runLocalWorker`) that consumes a queue.
 * - **attempt**: one run of an invocation; a retry is a new attempt with its own row.
 */
import type { EntityManager } from '@mikro-orm/core';
import type { TaskLogger } from './logger';

/** What a task function receives besides its arguments. */
export interface TaskContext {
  /** The EntityManager of the task's transaction (a fork). In a direct call: the caller's. */
  readonly em: EntityManager;
  /** The task record id; `null` in a direct call. */
  readonly taskId: string | null;
  /** The task name. */
  readonly taskName: string;
  /** The attempt number, 1 for the first run. */
  readonly attempt: number;
  /** The id of the first attempt (the same for every retry of one invocation); `null` in a direct call. */
  readonly rootId: string | null;
  /** Aborts with a `SoftTimeLimitExceeded` reason at the soft timeout; never aborts in a direct call. */
  readonly signal: AbortSignal;
  /** Logs prefixed with `[<task id>]` (no prefix in a direct call). */
  readonly logger: TaskLogger;
}

/** An Error class, as accepted by `ignoreErrors`. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Where a queue's messages go, as configured in `LAMBDA_TASKS_QUEUES` or `configureLambdaTasks({ queues })`. */
export interface QueueSettings {
  /** The SQS queue URL. Not needed in eager mode. */
  readonly url?: string;
  /** The dead-letter queue URL (used by DLQ reconciliation). */
  readonly dlqUrl?: string;
  /**
   * The largest hard timeout the queue's worker can run, in seconds; a task with a larger one is refused at enqueue.
   * @default 900
   */
  readonly maxHardTimeout?: number;
}

/** The resolved timeouts of a task, in seconds. */
export interface ResolvedTimeouts {
  readonly softTimeout: number;
  readonly hardTimeout: number;
}

/** An SQS record as Lambda delivers it (the fields the worker reads; `SQSRecord` of @types/aws-lambda fits). */
export interface SqsRecordLike {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly eventSourceARN: string;
  readonly messageAttributes?: Readonly<Record<string, { readonly stringValue?: string; readonly dataType?: string }>>;
}

/** An SQS event (`SQSEvent` of @types/aws-lambda fits). */
export interface SqsEventLike {
  readonly Records: readonly SqsRecordLike[];
}

/** The Lambda context fields the worker reads (`Context` of @types/aws-lambda fits). */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** The partial batch response (`SQSBatchResponse`). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}
