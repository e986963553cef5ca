/** Cancelling a task that has not started. */
import type { EntityManager } from '@mikro-orm/core';
import { TaskStateError } from './errors';
import { findDispatchSubscriber } from './outbox';
import { TaskStatus } from './record';
import { cancelQueued } from './records/cancel';

/**
 * Cancels a task before a worker claims it: its QUEUED row becomes CANCELLED in the em's current transaction
 * (so it takes effect when that commits; outside a transaction, at once). A worker that then receives its
 * message skips it and deletes the message; the relay never sends it. Given a RETRYING attempt, cancels the
 * retry it scheduled. Returns the id of the row that was cancelled.
 *
 * Throws {@link TaskStateError} when the task is RUNNING (it is never interrupted from outside),
 * has finished, or does not exist. Needs the second shipped migration (`lambdaTasksMigrations`).
 *
 * @example
 * import { cancelTask } from 'cdk-lambda-tasks/runtime';
 * await em.transactional((tem) => cancelTask(tem, taskId));
 */
export async function cancelTask(em: EntityManager, taskId: string): Promise<string> {
  const outcome = await cancelQueued(em, taskId);
  if ('cancelled' in outcome) {
    // Enqueued earlier in this same transaction: the outbox must look at the row at commit, not just send it.
    findDispatchSubscriber(em).checkAtCommit(em, outcome.cancelled);
    return outcome.cancelled;
  }
  const { status } = outcome;
  const reason =
    status === null ? 'no such task (rolled back, cleaned up, or a wrong id)'
      : status === TaskStatus.RUNNING ? 'the task is RUNNING: a running task cannot be cancelled (its soft and hard timeouts stop it)'
        : status === TaskStatus.RETRYING ? 'its retry has already started or finished'
          : `the task is already ${status}`;
  throw new TaskStateError('cancel', taskId, status, reason);
}
