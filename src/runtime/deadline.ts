/**
 * The deadline rules of a worker, in one place: which timeouts a run enforces, and whether a message can
 * start in the time its Lambda invocation has left, must be re-sent, or can never run.
 */
import { getQueueSettings } from './config';
import { DEADLINE_MARGIN_SECONDS, MAX_DEADLINE_RESENDS, MAX_TIMEOUT_SECONDS, RESENDS_ATTRIBUTE } from './contract';
import { toError } from './errors';
import type { TaskRow } from './records/row';
import type { RegisteredTask } from './registry';
import type { SqsRecordLike } from './types';

/** The soft and hard timeouts a worker enforces: hard is the row's (fixed at enqueue), soft the task's, below it. */
export function timeoutsOf(task: RegisteredTask, row: TaskRow): { softTimeout: number; hardTimeout: number } {
  const hardTimeout = row.hard_timeout;
  let softTimeout = hardTimeout - 1;
  try {
    softTimeout = Math.min(task.resolveTimeouts().softTimeout, hardTimeout - 1);
  } catch {
    // The configuration changed since enqueue: keep the row's hard timeout and a soft one just below it.
  }
  return { softTimeout: Math.max(1, softTimeout), hardTimeout };
}

/** How many times a message was re-sent for lack of time (its `lambda_tasks_resends` attribute). */
export function resendsOf(record: SqsRecordLike): number {
  const value = Number(record.messageAttributes?.[RESENDS_ATTRIBUTE]?.stringValue ?? 0);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** What to do with a claimed message before its run. */
export type DeadlineDecision =
  | { readonly action: 'run' }
  | { readonly action: 'resend'; readonly resends: number; readonly neededMs: number }
  | { readonly action: 'fail'; readonly note: string };

/**
 * Decides whether a claimed task can start now, from the row's stored hard timeout: it runs when that plus
 * the margin fits in the time left (and the batch was not stopped by a hard timeout); otherwise its message
 * is re-sent with the count + 1, unless it was re-sent too often or can never fit on this worker (its hard
 * timeout exceeds the queue's maximum) — then it is recorded FAILED with a note.
 */
export function decideDeadline(task: RegisteredTask, row: TaskRow, record: SqsRecordLike, remainingMs: number, stopped: boolean): DeadlineDecision {
  let queueMax: number;
  try {
    queueMax = getQueueSettings(task.queue).maxHardTimeout ?? MAX_TIMEOUT_SECONDS;
  } catch (error) {
    return { action: 'fail', note: `deadline: it can never run on this worker: ${toError(error).message}` };
  }
  if (row.hard_timeout > queueMax) {
    return { action: 'fail', note: `deadline: it can never run on this worker: its hard timeout (${row.hard_timeout} s) exceeds the maxHardTimeout of queue "${task.queue}" (${queueMax} s)` };
  }
  const neededMs = (row.hard_timeout + DEADLINE_MARGIN_SECONDS) * 1000;
  if (!stopped && neededMs <= remainingMs) return { action: 'run' };
  const resends = resendsOf(record);
  if (resends >= MAX_DEADLINE_RESENDS) {
    return { action: 'fail', note: `deadline: re-sent ${resends} times for lack of time (needs ${neededMs / 1000} s); raise the worker's timeout` };
  }
  return { action: 'resend', resends: resends + 1, neededMs };
}
