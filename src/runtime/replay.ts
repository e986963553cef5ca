/** Replaying a task that failed or was cancelled: its next attempt, through the outbox. */
import type { EntityManager } from '@mikro-orm/core';
import { assertLambdaTasksConfigured } from './entity-manager';
import { TaskStateError } from './errors';
import { findDispatchSubscriber } from './outbox';
import { TaskStatus } from './record';
import { insertQueued } from './records/insert-queued';
import { lockForReplay } from './records/lock-for-replay';
import { nextAttemptOf } from './records/row';

/**
 * Runs a FAILED or CANCELLED task again: inserts its next attempt (same `root_id`, attempt + 1, the same
 * arguments and queue) in the em's current transaction, and sends it when that commits, like
 * `executeOnCommit`. The earlier attempts stay as they are, so the history of the task stays visible
 * (`em.find(TaskRecord, { rootId })`). Only the latest attempt of a task can be replayed. Returns the new
 * attempt's id.
 *
 * Throws {@link TaskStateError} for a task that did not fail (QUEUED, RUNNING, SUCCESS, RETRYING), an attempt
 * that is not the latest, or an id with no row.
 *
 * @example
 * import { retryTask } from 'cdk-lambda-tasks/runtime';
 * const nextId = await em.transactional((tem) => retryTask(tem, failedTaskId));
 */
export async function retryTask(em: EntityManager, taskId: string): Promise<string> {
  assertLambdaTasksConfigured(em, 'retryTask()');
  const found = await lockForReplay(em, taskId);
  if (!found) throw new TaskStateError('retry', taskId, null, 'no such task (rolled back, cleaned up, or a wrong id)');
  const { row, lastAttempt } = found;
  if (row.status !== TaskStatus.FAILED && row.status !== TaskStatus.CANCELLED) {
    throw new TaskStateError('retry', taskId, row.status, `the task is ${row.status}: only a FAILED or CANCELLED task can be retried`);
  }
  if (row.attempt !== lastAttempt) {
    throw new TaskStateError('retry', taskId, row.status, `attempt ${lastAttempt} of this task exists: retry the latest attempt`);
  }
  const next = nextAttemptOf(row, new Date());
  await insertQueued(em, next);
  await findDispatchSubscriber(em).registerInserted(em, [next]);
  return next.id;
}
