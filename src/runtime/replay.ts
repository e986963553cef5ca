/** Replaying a task that failed or was cancelled: its next attempt, through the outbox. */
import { IsolationLevel, type EntityManager } from '@mikro-orm/core';
import { assertLambdaTasksConfigured } from './entity-manager';
import { TaskStateError } from './errors';
import { UNIQUE_ATTEMPT_INDEX } from './migration-sql';
import { findDispatchSubscriber } from './outbox';
import { TaskStatus } from './record';
import { insertNextAttempt } from './records/insert-queued';
import { lockForReplay } from './records/lock-for-replay';
import { nextAttemptOf } from './records/row';
import { checkTaskId } from './task-id';

/** Retries `id` in the em's current transaction (see {@link retryTask}). */
async function retryInTransaction(em: EntityManager, id: string, taskId: string): Promise<string> {
  const found = await lockForReplay(em, id);
  if (!found) throw new TaskStateError('retry', taskId, null, 'no such task (rolled back, cleaned up, or a wrong id)');
  const { row, lastAttempt } = found;
  if (row.status !== TaskStatus.FAILED && row.status !== TaskStatus.CANCELLED) {
    throw new TaskStateError('retry', taskId, row.status, `the task is ${row.status}: only a FAILED or CANCELLED task can be retried`);
  }
  if (row.attempt !== lastAttempt) {
    throw new TaskStateError('retry', taskId, row.status, `attempt ${lastAttempt} of this task exists: retry the latest attempt`);
  }
  const next = nextAttemptOf(row, new Date());
  if (!(await insertNextAttempt(em, next, UNIQUE_ATTEMPT_INDEX))) {
    // Only under REPEATABLE READ or SERIALIZABLE: this transaction's snapshot predates the other retry's commit.
    throw new TaskStateError(
      'retry', taskId, row.status,
      `attempt ${next.attempt} of this task was written by a concurrent retryTask (this transaction's snapshot is older than it): this transaction can only roll back; read the task again in a new one`,
    );
  }
  await findDispatchSubscriber(em).registerInserted(em, [next]);
  return next.id;
}

/**
 * Runs a FAILED or CANCELLED task again: inserts its next attempt (same `root_id`, attempt + 1, the same
 * arguments and queue) in the em's current transaction, and sends it when that commits, like
 * `executeOnCommit`; outside a transaction, in a short READ COMMITTED transaction of its own. The earlier
 * attempts stay as they are, so the history of the task stays visible (`em.find(TaskRecord, { rootId })`).
 * Only the latest attempt of a task can be replayed. Returns the new attempt's id.
 *
 * Two replays of one task take turns (a transaction advisory lock on its root), under every isolation level
 * and with no transaction: exactly one writes the next attempt; the other throws {@link TaskStateError}
 * (under READ COMMITTED "attempt N exists"; under REPEATABLE READ or SERIALIZABLE, when its snapshot predates
 * the first one's commit, the unique `(root_id, attempt)` index of the third shipped migration refuses its row,
 * and the error says so: that transaction is aborted and can only roll back).
 *
 * Throws {@link TaskStateError} for a task that did not fail (QUEUED, RUNNING, SUCCESS, RETRYING), an attempt
 * that is not the latest, or an id with no row; `TaskValidationError` when `taskId` is not a UUID. Needs the
 * third shipped migration (`lambdaTasksMigrations`).
 *
 * @example
 * import { retryTask } from 'cdk-lambda-tasks/runtime';
 * const nextId = await em.transactional((tem) => retryTask(tem, failedTaskId));
 */
export async function retryTask(em: EntityManager, taskId: string): Promise<string> {
  const id = checkTaskId('retryTask()', 'taskId', taskId);
  assertLambdaTasksConfigured(em, 'retryTask()');
  const context = em.getContext();
  if (context.isInTransaction()) return retryInTransaction(context, id, taskId);
  // No transaction: a lock outside one would hold nothing. READ COMMITTED, whatever the server's default, so
  // that the statement after the lock sees a replay that committed meanwhile; on a clean fork, so that the
  // transaction's flush does not write what the caller's em has pending.
  return context.fork().transactional((tem) => retryInTransaction(tem, id, taskId), { isolationLevel: IsolationLevel.READ_COMMITTED });
}
