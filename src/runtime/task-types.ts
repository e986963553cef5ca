/**
 * The public types of a task: its options, the options of each way to call it, and the callable itself.
 */
import type { EntityManager } from '@mikro-orm/core';
import type * as zc from 'zod/v4/core';
import type { SerializedInvocation } from './message';
import type { ErrorClass, ResolvedTimeouts, TaskContext } from './types';

/** An object schema (zod classic or zod/mini). */
export type TaskArgsSchema = zc.$ZodObject;

/** Options of {@link lambdaTask}. */
export interface LambdaTaskOptions<S extends TaskArgsSchema> {
  /** Stable, unique task name: the registry key and the name on the wire (letters, digits, `_ . : -`; up to 200 characters). */
  readonly name: string;
  /** The arguments: one `z.object({...})`. Unknown keys are rejected by the library. */
  readonly args: S;
  /**
   * Seconds until `ctx.signal` aborts with `SoftTimeLimitExceeded` (1..900, below hardTimeout).
   * @default - the configured default soft timeout (270), below the hard timeout
   */
  readonly softTimeout?: number;
  /**
   * Seconds until the task is stopped and recorded FAILED (1..900, at most the queue's maxHardTimeout).
   * @default - the configured default hard timeout (300), capped at the queue's maxHardTimeout
   */
  readonly hardTimeout?: number;
  /**
   * The queue (a key of `LAMBDA_TASKS_QUEUES`) the task's messages go to.
   * @default 'default'
   */
  readonly queue?: string;
  /**
   * Error classes (subclasses included) that count as SUCCESS: the task's writes still roll back,
   * the stack is kept in `traceback`, the result is null.
   * @default []
   */
  readonly ignoreErrors?: readonly ErrorClass[];
  /**
   * Error classes (subclasses included) after which the attempt is recorded RETRYING and a new attempt
   * (a new row: attempt + 1, same rootId) is enqueued with exponential backoff. `NonRetriableError` never retries.
   * @default [] (no retries)
   */
  readonly retryOn?: readonly ErrorClass[];
  /**
   * Retries after the first attempt (0..25); the attempt after the last one ends FAILED.
   * @default 3
   */
  readonly maxRetries?: number;
  /**
   * Seconds before the first retry (1..900); each later one waits twice as long, plus up to 20 % jitter, at most 900 s.
   * @default 10
   */
  readonly retryDelay?: number;
  /**
   * Run at most one at a time: a PostgreSQL advisory lock (`pg_try_advisory_xact_lock`) on the task name, or on
   * the name and the key this function returns for the arguments, held by the task's transaction.
   * @default false
   */
  readonly singleton?: boolean | ((args: zc.output<S>) => string);
  /**
   * When the lock is taken: true retries later (like `retryOn`, not counted in maxRetries); false records SUCCESS with a note.
   * @default true
   */
  readonly retrySingleton?: boolean;
}

/** Options of `executeOnCommit`. */
export interface ExecuteOnCommitOptions {
  /**
   * The EntityManager whose next flush writes the task record.
   * @default - the current `em.transactional()` EntityManager, else the RequestContext's
   */
  readonly em?: EntityManager;
  /**
   * Seconds before the worker may run it (0 or more, up to 366 days). Up to 900 s (SQS's largest delay) the
   * message is sent at commit with that DelaySeconds; beyond, the row waits in the table and the maintenance
   * relay sends it once it is due within 900 s, with the exact remaining delay. Give `delay` or `runAt`.
   * @default 0
   */
  readonly delay?: number;
  /** When the worker may run it (a time in the past means now); like `delay` beyond 900 s. Give `delay` or `runAt`. */
  readonly runAt?: Date;
}

/** Options of `executeOnCommitOnce`. */
export interface ExecuteOnCommitOnceOptions extends ExecuteOnCommitOptions {
  /** The idempotency key: a second call with the same key returns the first call's id and sends nothing. */
  readonly key: string;
}

/** Options of a direct call. */
export interface DirectCallOptions {
  /**
   * The EntityManager given to the task as `ctx.em`.
   * @default - the current `em.transactional()` EntityManager, else the RequestContext's
   */
  readonly em?: EntityManager;
}

/** A task's options with its timeouts resolved against the current configuration. */
export interface ResolvedTaskOptions extends ResolvedTimeouts {
  readonly name: string;
  readonly queue: string;
  readonly ignoreErrors: readonly ErrorClass[];
}

/** The task function. */
export type TaskFunction<S extends TaskArgsSchema, R> = (args: zc.output<S>, ctx: TaskContext) => R | Promise<R>;

/**
 * A defined task: call it to run it now (in your transaction), or enqueue it with
 * `executeOnCommit`. Argument types flow from the schema, the result type from the function.
 */
export interface LambdaTask<S extends TaskArgsSchema, R> {
  /** Direct call: validates and runs the function now, in the caller's EntityManager and transaction, with no record. */
  (args: zc.input<S>, options?: DirectCallOptions): Promise<Awaited<R>>;
  /** The task name. */
  readonly name: string;
  /** The argument schema. */
  readonly schema: S;
  /** The options, with timeouts resolved against the current configuration (throws `ConfigurationError` / `TimeoutRangeError`). */
  readonly options: ResolvedTaskOptions;
  /**
   * Validates and adds a QUEUED `TaskRecord` to the em's unit of work; its message is sent to SQS only
   * after the flush that writes it has committed. Returns the task id at once.
   */
  executeOnCommit(args: zc.input<S>, options?: ExecuteOnCommitOptions): string;
  /**
   * The idempotent form: inserts the record now (in the em's current transaction) unless `key` is taken,
   * and returns the existing id when it is. A new record is sent after the root transaction commits,
   * or at once outside a transaction.
   */
  executeOnCommitOnce(args: zc.input<S>, options: ExecuteOnCommitOnceOptions): Promise<string>;
  /** Validates like executeOnCommit and returns the invocation as JSON (`TaskInvocation.parse` reads it back). */
  serialize(args: zc.input<S>, options?: { readonly delay?: number }): SerializedInvocation;
}
