import type { EntityManager } from '@mikro-orm/core';
import { MAX_SQS_DELAY_SECONDS } from './contract';
import { libraryLog } from './logger';
import { markDispatchedInTransaction } from './records/mark-dispatched-in-transaction';
import { selectUndispatchedForUpdate } from './records/select-undispatched-for-update';
import { sendTaskMessages } from './sqs';

/** Options of {@link relayQueuedTasks}. */
export interface RelayOptions {
  /** The EntityManager to read and update the rows with (a fork is used). */
  readonly em: EntityManager;
  /**
   * Only rows enqueued longer ago than this: younger ones may still be on their way from the commit hook.
   * @default 60
   */
  readonly olderThanSeconds?: number;
  /**
   * Rows per run.
   * @default 500
   */
  readonly limit?: number;
}

/** What a relay did. */
export interface RelayResult {
  /** Rows whose messages were sent. */
  readonly sent: number;
  /** Rows whose send failed; they stay for the next run. */
  readonly failed: number;
}

/**
 * Sends QUEUED rows that were committed but never sent: the process died between commit and send, the send
 * failed, or the task runs more than 900 s after its commit (`delay`/`runAt`) and is now due within 900 s.
 * `DelaySeconds` is what is left of their delay by the database's clock, which also selected them (rounded up:
 * never early; the app's clock may be skewed), then `dispatched_at` is set. Rows
 * are locked `FOR UPDATE SKIP LOCKED` and marked in the same transaction, so two relays never send one row.
 *
 * @example
 * import { relayQueuedTasks } from 'cdk-lambda-tasks/runtime';
 * const { sent } = await relayQueuedTasks({ em: orm.em.fork(), olderThanSeconds: 60 });
 */
export async function relayQueuedTasks(options: RelayOptions): Promise<RelayResult> {
  const olderThanSeconds = options.olderThanSeconds ?? 60;
  const limit = options.limit ?? 500;
  return options.em.fork().transactional(async (em) => {
    const rows = await selectUndispatchedForUpdate(em, olderThanSeconds, MAX_SQS_DELAY_SECONDS, limit);
    if (rows.length === 0) return { sent: 0, failed: 0 };
    const outcome = await sendTaskMessages(
      rows.map((r) => ({ id: r.id, taskName: r.task_name, kwargs: r.kwargs, queue: r.queue, runAfter: new Date(r.run_after), delaySeconds: r.delay_seconds })),
    );
    await markDispatchedInTransaction(em, outcome.sent);
    if (outcome.failed.length > 0) {
      libraryLog.error('relay: some sends failed; the rows stay for the next run', { taskIds: outcome.failed.map((f) => f.id), reasons: [...new Set(outcome.failed.map((f) => f.reason))] });
    }
    return { sent: outcome.sent.length, failed: outcome.failed.length };
  });
}
