/**
 * The outbox: task rows are written with the caller's data, and their messages are sent only after the
 * transaction that wrote them has committed (or, in eager mode, run in this process then).
 */
import { ChangeSetType, type EntityManager, type EventSubscriber, type FlushEventArgs, type TransactionEventArgs } from '@mikro-orm/core';
import { getLambdaTasksConfig } from './config';
import { EagerTaskError, LambdaTasksError, TaskDispatchError, toError } from './errors';
import { libraryLog } from './logger';
import { mayRollBackAlone, rootTransaction, transactionStarted, transactionStarting } from './orm';
import { TaskRecord, TaskStatus } from './record';
import { CANCELLED_NOTE, cancelInserted } from './records/cancel';
import { insertQueuedRows } from './records/insert-queued-rows';
import { markDispatched } from './records/mark-dispatched';
import type { NewTaskRow } from './records/row';
import { selectQueuedIds } from './records/select-queued-ids';
import { sendTaskMessages, type OutgoingTask, type SendOutcome } from './sqs';

/**
 * How the dispatch bound (`dispatchTimeoutMs`) is shared after a commit: each database step (reading which rows
 * committed, setting `dispatched_at`) takes at most `databaseMs` of what is left, and the sends leave a
 * `reserveFraction` of the bound (at most `databaseMs`) for setting `dispatched_at`. What does not finish in time
 * is left to the relay. Eager mode runs the tasks themselves, which takes as long as they do.
 */
export const POST_COMMIT_LIMITS = { databaseMs: 2_000, reserveFraction: 0.2 } as const;

/** The time left until a deadline, in milliseconds (never negative). */
function leftUntil(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

/** Rejects when `promise` takes longer than `ms` (the promise itself goes on; its late result is ignored). */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs committed invocations in this process instead of sending them (eager mode). */
export type InProcessRunner = (em: EntityManager, tasks: readonly OutgoingTask[]) => Promise<void>;

/** Message bodies encoded at enqueue, kept with their entity until the flush that writes it (encoded once per task). */
const encodedBodies = new WeakMap<TaskRecord, string>();

/** Keeps the body encoded at enqueue with the entity, so the dispatch does not encode it again. */
export function rememberEncodedBody(record: TaskRecord, body: string): void {
  encodedBodies.set(record, body);
}

/** A row `executeOnCommit` made inside a transaction: written by that em's next flush with one multi-row INSERT. */
export interface UnflushedTask {
  readonly row: NewTaskRow;
  readonly enqueuedAt: Date;
  readonly body: string;
  /** Set by `cancelTask` before the flush: the row is written CANCELLED and never sent. */
  cancelled?: boolean;
}

/** Rows waiting for their em's next flush, per em (the em's context: a transaction's fork). */
const unflushed = new WeakMap<EntityManager, UnflushedTask[]>();

/**
 * Inside a transaction, `executeOnCommit` hands its row here instead of to the unit of work: the next flush of
 * that em inserts all of them with one statement in the same transaction (a savepoint's with the savepoint),
 * which costs a fraction of MikroORM's change-set work per entity. Outside a transaction the entity path stays:
 * there the flush's own implicit transaction is the only one the row can share with the caller's entities.
 */
export function addUnflushedTask(em: EntityManager, task: UnflushedTask): void {
  const list = unflushed.get(em);
  if (list) list.push(task);
  else unflushed.set(em, [task]);
}

/**
 * `cancelTask` on a row the em has not written yet: a row `executeOnCommit` buffered for the next flush of the
 * em's transaction, or (outside a transaction) a new `TaskRecord` persisted in its unit of work. Cancels it in
 * memory (the flush writes it CANCELLED; nothing is sent) and returns `'cancelled'`, `'already'` when it was
 * cancelled before, or undefined when the em holds no such unwritten row. `id` is lower case.
 */
export function cancelUnwritten(em: EntityManager, id: string): 'cancelled' | 'already' | undefined {
  const context = em.getContext();
  const buffered = unflushed.get(context)?.find((t) => t.row.id.toLowerCase() === id);
  if (buffered) {
    if (buffered.cancelled) return 'already';
    buffered.cancelled = true;
    return 'cancelled';
  }
  const uow = context.getUnitOfWork();
  for (const entity of uow.getPersistStack()) {
    if (!(entity instanceof TaskRecord) || entity.id.toLowerCase() !== id || uow.getOriginalEntityData(entity) !== undefined) continue;
    if (entity.status !== TaskStatus.QUEUED) return 'already';
    Object.assign(entity, { status: TaskStatus.CANCELLED, endTime: new Date(), note: CANCELLED_NOTE });
    return 'cancelled';
  }
  return undefined;
}

function toOutgoing(record: TaskRecord): OutgoingTask {
  return { id: record.id, taskName: record.taskName, kwargs: record.kwargs, queue: record.queue, runAfter: record.runAfter, body: encodedBodies.get(record) };
}

/**
 * The MikroORM subscriber of the outbox: collects the task records created by each flush and sends their
 * messages only once they are committed — at once for a flush outside a transaction, at the root
 * transaction's commit otherwise; nothing on rollback. Of the rows written inside a savepoint, it sends at
 * commit only those that exist as QUEUED rows (one `select`), so rows of a rolled-back savepoint are never
 * sent; rows written at the root level commit with it and need no check. `withLambdaTasks()` registers it with
 * the in-process runner that eager mode uses.
 */
export class TaskDispatchSubscriber implements EventSubscriber {
  /** Per root transaction: the tasks to send at its commit, and whether each must be read back first (written in a savepoint, or cancelled since). */
  private readonly pending = new WeakMap<object, Map<string, { task: OutgoingTask; readBack: boolean }>>();

  public constructor(private readonly runInProcess: InProcessRunner) {}

  /**
   * Writes the rows `executeOnCommit` buffered inside a transaction, before the flush writes the caller's
   * entities (one of which may reference a task row), in the flush's transaction: the caller's, or a savepoint's.
   */
  public async onFlush(args: FlushEventArgs): Promise<void> {
    const buffered = unflushed.get(args.em);
    if (!buffered) return;
    unflushed.delete(args.em);
    await insertQueuedRows(args.em, buffered.map((t) => ({ ...t.row, enqueuedAt: t.enqueuedAt })));
    const cancelled = buffered.filter((t) => t.cancelled);
    if (cancelled.length > 0) await cancelInserted(args.em, cancelled.map((t) => t.row.id));
    const live = cancelled.length > 0 ? buffered.filter((t) => !t.cancelled) : buffered;
    if (live.length > 0) await this.registerInserted(args.em, live.map((t) => ({ ...t.row, body: t.body })));
  }

  public async afterFlush(args: FlushEventArgs): Promise<void> {
    const created: OutgoingTask[] = [];
    for (const changeSet of args.uow.getChangeSets()) {
      if (changeSet.type === ChangeSetType.CREATE && changeSet.entity instanceof TaskRecord && changeSet.entity.status === TaskStatus.QUEUED) {
        created.push(toOutgoing(changeSet.entity));
      }
    }
    if (created.length > 0) await this.registerInserted(args.em, created);
  }

  /** Registers rows just inserted through `em`: sent after its root transaction commits, or now outside one. */
  public async registerInserted(em: EntityManager, tasks: readonly OutgoingTask[]): Promise<void> {
    const root = em.isInTransaction() ? rootTransaction(em) : undefined;
    if (!root) {
      await this.dispatchCommitted(em, tasks);
      return;
    }
    let pending = this.pending.get(root);
    if (!pending) {
      pending = new Map();
      this.pending.set(root, pending);
    }
    // Rows written at the root level commit exactly when the root does; a savepoint's may roll back alone.
    const inSavepoint = mayRollBackAlone(em);
    for (const task of tasks) pending.set(task.id, { task, readBack: inSavepoint || pending.get(task.id)?.readBack === true });
  }

  /**
   * Makes the commit of `em`'s root transaction read this task's row before sending it (a task enqueued and
   * then cancelled in the same transaction is not QUEUED at commit: nothing is sent). No-op for other tasks.
   */
  public checkAtCommit(em: EntityManager, taskId: string): void {
    const root = em.isInTransaction() ? rootTransaction(em) : undefined;
    const entry = root && this.pending.get(root)?.get(taskId);
    if (entry) entry.readBack = true;
  }

  /** Lets the ORM seam map a savepoint to its root transaction (MikroORM 7's savepoints do not know it). */
  public beforeTransactionStart(args: TransactionEventArgs): void {
    transactionStarting(args);
  }

  public afterTransactionStart(args: TransactionEventArgs): void {
    transactionStarted(args);
  }

  public async afterTransactionCommit(args: TransactionEventArgs): Promise<void> {
    const trx = args.transaction as object | undefined;
    const pending = trx ? this.pending.get(trx) : undefined;
    if (!trx || !pending || pending.size === 0) return;
    this.pending.delete(trx);
    const entries = [...pending.values()];
    await this.dispatchCommitted(args.em, entries.map((e) => e.task), { unsure: entries.filter((e) => e.readBack).map((e) => e.task.id) });
  }

  public async afterTransactionRollback(args: TransactionEventArgs): Promise<void> {
    if (args.em) unflushed.delete(args.em); // never flushed: they go with the transaction
    if (args.transaction) this.pending.delete(args.transaction as object);
  }

  /**
   * After a commit: sends the committed tasks (or runs them, in eager mode), sets `dispatched_at` on the
   * sent rows, and leaves everything else to the relay. Nothing here rejects the caller's promise except
   * `onDispatchError: 'throw'` (a `TaskDispatchError`, `committed: true`) and, in eager mode,
   * `eagerPropagate`; nothing keeps it pending longer than `dispatchTimeoutMs` (shared as {@link POST_COMMIT_LIMITS} says).
   */
  private async dispatchCommitted(em: EntityManager, tasks: readonly OutgoingTask[], options: { unsure?: readonly string[] } = {}): Promise<void> {
    if (tasks.length === 0) return;
    const committedAt = Date.now();
    let onDispatchError: 'log' | 'throw' = 'log';
    try {
      const config = getLambdaTasksConfig();
      onDispatchError = config.onDispatchError;
      const deadline = committedAt + config.dispatchTimeoutMs;
      // Rows inserted in a savepoint that was rolled back never committed: of those, send only the rows that exist.
      const committed = options.unsure?.length ? await this.committedOnly(em, tasks, options.unsure, deadline) : tasks;
      if (config.eager) await this.runInProcess(em, committed);
      else await this.send(em, committed, onDispatchError, deadline, config.dispatchTimeoutMs);
    } catch (error) {
      if (error instanceof TaskDispatchError) throw error;
      if (error instanceof EagerTaskError) throw error.taskError; // eagerPropagate: the task's own error
      const taskIds = tasks.map((t) => t.id);
      libraryLog.error('could not dispatch committed tasks; the rows stay QUEUED for relayQueuedTasks()', { taskIds, error: toError(error).message });
      if (onDispatchError === 'throw') throw new TaskDispatchError(taskIds, error);
    }
  }

  private async committedOnly(em: EntityManager, tasks: readonly OutgoingTask[], unsure: readonly string[], deadline: number): Promise<readonly OutgoingTask[]> {
    const ids = await withTimeout(selectQueuedIds(em, unsure), Math.min(POST_COMMIT_LIMITS.databaseMs, leftUntil(deadline)), 'reading the committed task rows');
    const check = new Set(unsure);
    return tasks.filter((t) => !check.has(t.id) || ids.has(t.id));
  }

  /** Sends within the bound (every attempt aborted at the send deadline), then sets `dispatched_at` in what is left. */
  private async send(em: EntityManager, tasks: readonly OutgoingTask[], onDispatchError: 'log' | 'throw', deadline: number, boundMs: number): Promise<void> {
    const sendMs = leftUntil(deadline - Math.min(POST_COMMIT_LIMITS.databaseMs, boundMs * POST_COMMIT_LIMITS.reserveFraction));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`sending took longer than the dispatch bound (dispatchTimeoutMs ${boundMs})`)), sendMs);
    const sending = sendTaskMessages(tasks, { signal: abort.signal });
    let outcome: SendOutcome;
    try {
      // Raced as well: the bound holds even if a client ignored the abort; then nothing counts as sent.
      outcome = await withTimeout(sending, sendMs + 50, 'sending').catch((error: unknown) => ({ sent: [], failed: tasks.map((t) => ({ id: t.id, reason: toError(error).message })), deferred: [], firstError: error }));
    } finally {
      clearTimeout(timer);
    }
    try {
      await withTimeout(markDispatched(em, outcome.sent), Math.min(POST_COMMIT_LIMITS.databaseMs, leftUntil(deadline)), 'setting dispatched_at');
    } catch (error) {
      // The messages are out; a relay may send them again and the claim skips the duplicate.
      libraryLog.warn('could not set dispatched_at after sending', { taskIds: outcome.sent, error: toError(error).message });
    }
    if (outcome.failed.length > 0) {
      const taskIds = outcome.failed.map((f) => f.id);
      libraryLog.error('sending task messages failed; the rows stay QUEUED for relayQueuedTasks()', {
        taskIds,
        reasons: [...new Set(outcome.failed.map((f) => f.reason))],
      });
      if (onDispatchError === 'throw') throw new TaskDispatchError(taskIds, outcome.firstError);
    }
  }
}

function dispatchSubscriberOf(em: EntityManager): TaskDispatchSubscriber | undefined {
  return [...em.getEventManager().getSubscribers()].find((s): s is TaskDispatchSubscriber => s instanceof TaskDispatchSubscriber);
}

/** Whether the em's ORM has the dispatch subscriber. */
export function hasDispatchSubscriber(em: EntityManager): boolean {
  return dispatchSubscriberOf(em) !== undefined;
}

/** The dispatch subscriber of the em's ORM (registered by withLambdaTasks). */
export function findDispatchSubscriber(em: EntityManager): TaskDispatchSubscriber {
  const subscriber = dispatchSubscriberOf(em);
  if (!subscriber) throw new LambdaTasksError('this MikroORM instance has no TaskDispatchSubscriber: wrap your config with withLambdaTasks(...)');
  return subscriber;
}
