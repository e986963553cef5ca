import { EntitySchema } from '@mikro-orm/core';

/** The status of a task record. QUEUED → RUNNING → SUCCESS | FAILED | RETRYING; QUEUED → CANCELLED. */
export enum TaskStatus {
  /** Written with the caller's transaction; waiting for (or in) SQS. */
  QUEUED = 'QUEUED',
  /** Claimed by a worker. */
  RUNNING = 'RUNNING',
  /** The task returned (or threw one of its `ignoreErrors`). */
  SUCCESS = 'SUCCESS',
  /** The task threw, timed out, or could not run. */
  FAILED = 'FAILED',
  /** This attempt failed and a later attempt (a new row with the same `rootId`) was enqueued. */
  RETRYING = 'RETRYING',
  /** Cancelled by `cancelTask` before a worker claimed it: never runs (needs the second shipped migration). */
  CANCELLED = 'CANCELLED',
}

/** Statuses after which a record never changes again. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = [TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.RETRYING, TaskStatus.CANCELLED];

/** The table name; fixed, so the worker's SQL does not depend on the app's naming strategy. */
export const TASK_RECORD_TABLE = 'task_record';

/**
 * One attempt of one task invocation: the `task_record` row.
 *
 * @example
 * import { TaskRecord, TaskStatus } from 'cdk-lambda-tasks/runtime';
 * const failed = await em.find(TaskRecord, { status: TaskStatus.FAILED }, { orderBy: { enqueuedAt: 'desc' } });
 */
export class TaskRecord {
  /** The task id (uuid), returned by `executeOnCommit` and sent as `task_id`. */
  id!: string;
  /** The registered task name. */
  taskName!: string;
  /** The validated arguments, as given (JSON). */
  kwargs!: Record<string, unknown>;
  /** The queue name. */
  queue!: string;
  status!: TaskStatus;
  /** 1 for the first attempt; a retry is a new row with attempt + 1. */
  attempt!: number;
  /** The id of the first attempt (equal to `id` for it). */
  rootId!: string;
  /** The key of `executeOnCommitOnce`, unique when set. */
  idempotencyKey?: string | null;
  /** The hard timeout fixed for this invocation, in seconds. */
  hardTimeout!: number;
  enqueuedAt!: Date;
  /** Not before this time (enqueue time + delay). */
  runAfter!: Date;
  /** When the message was sent (or first claimed); null while the relay may still need to send it. */
  dispatchedAt?: Date | null;
  startTime?: Date | null;
  endTime?: Date | null;
  /** The task's return value (JSON) on success; null after an ignored error. */
  result?: unknown;
  /** The error's stack on failure, or on success after an ignored error. */
  traceback?: string | null;
  /** A short human reason: skipped singleton, deadline, swept, … */
  note?: string | null;
  /** The SQS message id of the delivery that ran it. */
  messageId?: string | null;
}

const timestamp = { type: 'datetime', columnType: 'timestamptz' } as const;

/** The MikroORM metadata of {@link TaskRecord}; `withLambdaTasks()` adds it to your config. */
export const TaskRecordSchema = new EntitySchema<TaskRecord>({
  class: TaskRecord,
  tableName: TASK_RECORD_TABLE,
  properties: {
    id: { type: 'uuid', primary: true, fieldName: 'id' },
    taskName: { type: 'string', fieldName: 'task_name', length: 255, index: 'task_record_task_name_index' },
    kwargs: { type: 'json', fieldName: 'kwargs' },
    queue: { type: 'string', fieldName: 'queue', length: 80 },
    status: { enum: true, items: () => TaskStatus, fieldName: 'status', index: 'task_record_status_index' },
    attempt: { type: 'integer', fieldName: 'attempt' },
    rootId: { type: 'uuid', fieldName: 'root_id' },
    idempotencyKey: { type: 'string', fieldName: 'idempotency_key', length: 255, nullable: true, unique: 'task_record_idempotency_key_unique' },
    hardTimeout: { type: 'integer', fieldName: 'hard_timeout' },
    enqueuedAt: { ...timestamp, fieldName: 'enqueued_at' },
    runAfter: { ...timestamp, fieldName: 'run_after' },
    dispatchedAt: { ...timestamp, fieldName: 'dispatched_at', nullable: true },
    startTime: { ...timestamp, fieldName: 'start_time', nullable: true },
    endTime: { ...timestamp, fieldName: 'end_time', nullable: true },
    result: { type: 'json', fieldName: 'result', nullable: true },
    traceback: { type: 'text', fieldName: 'traceback', nullable: true },
    note: { type: 'text', fieldName: 'note', nullable: true },
    messageId: { type: 'string', fieldName: 'message_id', length: 255, nullable: true },
  },
});
