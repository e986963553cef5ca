/** Cancelling a task that has not started. */
import type { EntityManager } from '@mikro-orm/core';
import { TaskStateError } from './errors';
import { cancelUnwritten, findDispatchSubscriber } from './outbox';
import { TaskStatus } from './record';
import { cancelQueued, type NotCancelled } from './records/cancel';
import { checkTaskId } from './task-id';

const RUNNING_REASON = 'a running task cannot be cancelled (its soft and hard timeouts stop it)';

/** Why `cancelTask(id)` refused, from the row's status and its root's latest attempt. */
function refusal(id: string, outcome: Exclude<NotCancelled, { stale: true }>): string {
  if (outcome.status === null) {
    return 'no such task (rolled back, cleaned up, or a wrong id; or enqueued through another em, such as the one of an enclosing transaction, and not flushed yet: cancel it through that em, or flush it first)';
  }
  const { latest } = outcome;
  if (latest.id !== id) {
    // A later attempt exists (a retry or a replay): the task is that attempt now.
    return latest.status === TaskStatus.RUNNING
      ? `its latest attempt (${latest.attempt}) is RUNNING: ${RUNNING_REASON}`
      : `its latest attempt (${latest.attempt}) is already ${latest.status}`;
  }
  if (outcome.status === TaskStatus.RUNNING) return `the task is RUNNING: ${RUNNING_REASON}`;
  if (outcome.status === TaskStatus.RETRYING) return 'its retry has already started or finished';
  return `the task is already ${outcome.status}`;
}

/**
 * Cancels a task before a worker claims it: its QUEUED row becomes CANCELLED in the em's current transaction
 * (so it takes effect when that commits; outside a transaction, at once). A worker that then receives its
 * message skips it and deletes the message; the relay never sends it. Given an attempt that a later one
 * followed (a retry the worker scheduled, or a `retryTask` replay, at any depth), cancels the latest attempt
 * of that task if it is QUEUED. A task enqueued through this em and not yet flushed (`executeOnCommit` before
 * the next `flush`/commit) is cancelled in memory: the flush writes it CANCELLED and nothing is sent (a row
 * buffered by another em, e.g. the enclosing transaction's while this em is a savepoint's, is not seen: cancel
 * it through the em that enqueued it). Returns the id of the row that was cancelled.
 *
 * Throws {@link TaskStateError} when the task (its latest attempt) is RUNNING (it is never interrupted from
 * outside), has finished, or does not exist, or changed after the snapshot of a REPEATABLE READ or SERIALIZABLE
 * transaction (which PostgreSQL then aborts); `TaskValidationError` when `taskId` is not a UUID. Needs the
 * second shipped migration (`lambdaTasksMigrations`).
 *
 * @example
 * import { cancelTask } from 'cdk-lambda-tasks/runtime';
 * await em.transactional((tem) => cancelTask(tem, taskId));
 */
export async function cancelTask(em: EntityManager, taskId: string): Promise<string> {
  const id = checkTaskId('cancelTask()', 'taskId', taskId);
  const unwritten = cancelUnwritten(em, id);
  if (unwritten === 'cancelled') return id;
  if (unwritten === 'already') throw new TaskStateError('cancel', taskId, TaskStatus.CANCELLED, 'the task is already CANCELLED');
  const outcome = await cancelQueued(em, id);
  if ('cancelled' in outcome) {
    // Enqueued earlier in this same transaction: the outbox must look at the row at commit, not just send it.
    findDispatchSubscriber(em).checkAtCommit(em, outcome.cancelled);
    return outcome.cancelled;
  }
  if ('stale' in outcome) {
    throw new TaskStateError(
      'cancel', taskId, null,
      "the task changed after this transaction's snapshot was taken (a worker claimed it, or another operator cancelled it): this transaction can only roll back; read the task again in a new one",
    );
  }
  const status = outcome.status === null || outcome.latest.id === id ? outcome.status : outcome.latest.status;
  throw new TaskStateError('cancel', taskId, status, refusal(id, outcome));
}
