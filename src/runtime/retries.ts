/**
 * Retries: the backoff, and scheduling the next attempt (a new row) in the same transaction that records
 * this one RETRYING.
 */
import type { EntityManager } from '@mikro-orm/core';
import { MAX_TIMEOUT_SECONDS } from './contract';
import { traceOf } from './errors';
import { libraryLog } from './logger';
import { findDispatchSubscriber } from './outbox';
import { TaskStatus } from './record';
import { markRetrying } from './records/end-attempt';
import { insertQueued } from './records/insert-queued';
import { nextAttemptOf, type TaskRow } from './records/row';
import type { RegisteredTask } from './registry';
import type { TaskOutcome } from './run-task';

/** Seconds before attempt `attempt + 1`: retryDelay × 2^(attempt − 1), plus up to 20 % jitter, capped at 900 s (SQS's largest delay). */
export function retryDelaySeconds(baseSeconds: number, attempt: number, random: () => number = Math.random): number {
  const exponential = baseSeconds * 2 ** Math.max(0, attempt - 1);
  const jitter = exponential * 0.2 * random();
  return Math.min(MAX_TIMEOUT_SECONDS, Math.round(exponential + jitter));
}

/**
 * Records this attempt RETRYING (with the error's stack) and inserts the next attempt — a new row, attempt + 1,
 * same root id, run after `delaySeconds` — in one transaction; its message is sent when that commits.
 */
export async function scheduleRetry(em: EntityManager, row: TaskRow, task: RegisteredTask, error: Error | null, delaySeconds: number, reason: string): Promise<TaskOutcome> {
  const next = nextAttemptOf(row, new Date(Date.now() + delaySeconds * 1000));
  let written = false;
  await em.fork().transactional(async (tem) => {
    written = await markRetrying(tem, row.id, row.attempt, { traceback: error ? traceOf(error) : null, note: `${reason} in ${delaySeconds} s as attempt ${next.attempt}` });
    if (!written) return;
    await insertQueued(tem, next);
    await findDispatchSubscriber(tem).registerInserted(tem, [next]);
  });
  if (!written) return { taskId: row.id, taskName: task.name, status: 'superseded', error: error ?? undefined };
  libraryLog.info('task RETRYING', { taskId: row.id, taskName: task.name, attempt: row.attempt, nextTaskId: next.id, delaySeconds, reason });
  return { taskId: row.id, taskName: task.name, status: TaskStatus.RETRYING, error: error ?? undefined, nextTaskId: next.id };
}
