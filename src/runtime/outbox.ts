/**
 * The outbox: task rows are written with the caller's data, and their messages are sent only after the
 * transaction that wrote them has committed (or, in eager mode, run in this process then).
 */
import { ChangeSetType, type EntityManager, type EventSubscriber, type FlushEventArgs, type TransactionEventArgs } from '@mikro-orm/core';
import { getLambdaTasksConfig } from './config';
import { LambdaTasksError, TaskDispatchError } from './errors';
import { libraryLog } from './logger';
import { rootTransaction } from './orm';
import { TaskRecord, TaskStatus } from './record';
import { markDispatched } from './records/mark-dispatched';
import { selectQueuedIds } from './records/select-queued-ids';
import { sendTaskMessages, type OutgoingTask } from './sqs';

/** Runs committed invocations in this process instead of sending them (eager mode). */
export type InProcessRunner = (em: EntityManager, tasks: readonly OutgoingTask[]) => Promise<void>;

/** Message bodies encoded at enqueue, kept with their entity until the flush that writes it (encoded once per task). */
const encodedBodies = new WeakMap<TaskRecord, string>();

/** Keeps the body encoded at enqueue with the entity, so the dispatch does not encode it again. */
export function rememberEncodedBody(record: TaskRecord, body: string): void {
  encodedBodies.set(record, body);
}

function toOutgoing(record: TaskRecord): OutgoingTask {
  return { id: record.id, taskName: record.taskName, kwargs: record.kwargs, queue: record.queue, runAfter: record.runAfter, body: encodedBodies.get(record) };
}

/**
 * The MikroORM subscriber of the outbox: collects the task records created by each flush and sends their
 * messages only once they are committed — at once for a flush outside a transaction, at the root
 * transaction's commit otherwise; nothing on rollback. At commit it sends only the ids that exist as
 * QUEUED rows, so rows of a rolled-back savepoint are never sent. `withLambdaTasks()` registers it with
 * the in-process runner that eager mode uses.
 */
export class TaskDispatchSubscriber implements EventSubscriber {
  private readonly pending = new WeakMap<object, Map<string, OutgoingTask>>();

  public constructor(private readonly runInProcess: InProcessRunner) {}

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
    for (const task of tasks) pending.set(task.id, task);
  }

  public async afterTransactionCommit(args: TransactionEventArgs): Promise<void> {
    const trx = args.transaction as object | undefined;
    const pending = trx ? this.pending.get(trx) : undefined;
    if (!trx || !pending || pending.size === 0) return;
    this.pending.delete(trx);
    const tasks = [...pending.values()];
    const committed = await selectQueuedIds(args.em, tasks.map((t) => t.id));
    await this.dispatchCommitted(args.em, tasks.filter((t) => committed.has(t.id)));
  }

  public async afterTransactionRollback(args: TransactionEventArgs): Promise<void> {
    if (args.transaction) this.pending.delete(args.transaction as object);
  }

  /**
   * Sends committed tasks (or runs them, in eager mode), sets `dispatched_at` on the sent rows, and reports
   * failures: logged with the ids, rethrown as `TaskDispatchError` when `onDispatchError` is 'throw'.
   * Rows that failed stay undispatched for the relay.
   */
  private async dispatchCommitted(em: EntityManager, tasks: readonly OutgoingTask[]): Promise<void> {
    if (tasks.length === 0) return;
    const config = getLambdaTasksConfig();
    if (config.eager) {
      await this.runInProcess(em, tasks);
      return;
    }
    const outcome = await sendTaskMessages(tasks);
    try {
      await markDispatched(em, outcome.sent);
    } catch (error) {
      // The messages are out; a relay may send them again and the claim skips the duplicate.
      libraryLog.warn('could not set dispatched_at after sending', { taskIds: outcome.sent, error: (error as Error).message });
    }
    if (outcome.failed.length > 0) {
      const taskIds = outcome.failed.map((f) => f.id);
      libraryLog.error('sending task messages failed; the rows stay QUEUED for relayQueuedTasks()', {
        taskIds,
        reasons: [...new Set(outcome.failed.map((f) => f.reason))],
      });
      if (config.onDispatchError === 'throw') throw new TaskDispatchError(taskIds, outcome.firstError);
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
