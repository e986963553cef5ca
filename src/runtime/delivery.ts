/**
 * Handles one SQS message: decode it, find its task, claim its row unless the worker claimed it ahead (the row
 * must be QUEUED and of the task the message names), check the deadline with the row's stored hard timeout,
 * then run it. Says for each message whether SQS may delete it (`processed`) or it belongs in batchItemFailures.
 */
import type { EntityManager } from '@mikro-orm/core';
import { MAX_TIMEOUT_SECONDS } from './contract';
import { ConfigurationError, toError } from './errors';
import { libraryLog } from './logger';
import { decodeMessageBody, type MessageBody } from './message';
import { recordTaskOutcome } from './metrics';
import { TaskStatus } from './record';
import { claim, findOwnClaim, type ClaimRequest, type ClaimToken } from './records/claim';
import { fail } from './records/end-attempt';
import { findStatus } from './records/find-status';
import { insertClaimed } from './records/insert-claimed';
import { requeue } from './records/requeue';
import type { TaskRow } from './records/row';
import { findTask, type RegisteredTask } from './registry';
import { runClaimedTask, type RunOptions } from './run-task';

/** One SQS message as the worker needs it. */
export interface Delivery {
  readonly messageId: string;
  readonly body: string;
}

/**
 * What became of a delivery: `processed` (SQS may delete it: the task ran, failed, or the message
 * was a duplicate), or `unprocessed` (it could be neither run nor handed on: a malformed body, an
 * unknown task, a message that names another task than its row, or an infrastructure failure; it
 * belongs in batchItemFailures).
 */
export type DeliveryResult =
  | {
    readonly kind: 'processed';
    readonly taskId: string | null;
    readonly status: TaskStatus | 'skipped' | 'resent';
    readonly hardTimedOut?: boolean;
    /** The row of the next delivery, claimed with this task's SUCCESS (see `RunOptions.claimNext`). */
    readonly nextClaimed?: TaskRow | null;
    /** The next delivery's claim, when it went out with this task and its commit is in doubt (see `RunOutcome.claimInDoubt`). */
    readonly claimInDoubt?: ClaimToken;
  }
  | { readonly kind: 'unprocessed'; readonly reason: string };

/** What to do with a claimed row before running it. */
export type BeforeRun =
  | { readonly action: 'run' }
  /** Put the row back to QUEUED and send the message again (`send` throws when it cannot). */
  | { readonly action: 'resend'; readonly send: () => Promise<void> }
  | { readonly action: 'fail'; readonly note: string };

/** How the worker adapts the handling of one message. */
export interface DeliveryHooks {
  /** How to run the task. */
  readonly runOptions?: RunOptions;
  /** Called after the claim, with the row (its stored hard timeout): run it, re-send it, or fail it without running. */
  readonly beforeRun?: (task: RegisteredTask, row: TaskRow) => BeforeRun;
  /** The row, when the worker already claimed it for this delivery (with the batch, or with the task before it). */
  readonly claimed?: TaskRow;
  /** A claim of this delivery went out with the task before it and was not confirmed: a RUNNING row held by exactly this claim is its own. */
  readonly claimInDoubt?: ClaimToken;
}

/** A delivery whose body decoded and whose task this worker knows. */
export interface PreparedDelivery {
  readonly delivery: Delivery;
  readonly body: MessageBody;
  readonly task: RegisteredTask;
}

function describeFailure(error: unknown): string {
  const message = toError(error).message;
  return error instanceof ConfigurationError ? `worker configuration error: ${message}` : `${message} (database unreachable?)`;
}

/** The hard timeout to store for a message without task_id: the task's, or — when it cannot run here — one the row can hold. */
function hardTimeoutForForeignMessage(task: RegisteredTask): number {
  try {
    return task.resolveTimeouts().hardTimeout;
  } catch {
    // The deadline check records it FAILED with the reason; the row still needs a valid hard timeout.
    return Math.min(task.given.hardTimeout ?? MAX_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);
  }
}

/** Claims the row of a message (inserting one for a message without task_id), or says why not. */
async function claimRow(em: EntityManager, delivery: Delivery, body: MessageBody, task: RegisteredTask, claimInDoubt: ClaimToken | undefined): Promise<TaskRow | DeliveryResult> {
  const { task_id: taskId, task_name: taskName, kwargs } = body;
  try {
    if (taskId) {
      const row = (await claim(em, taskId, taskName, delivery.messageId))
        ?? (claimInDoubt?.id === taskId ? await findOwnClaim(em, claimInDoubt) : null);
      if (row) return row;
      const found = await findStatus(em, taskId);
      if (found === null) {
        libraryLog.warn('message for a task record that does not exist (rolled back or cleaned up); skipped', { taskId, taskName, messageId: delivery.messageId });
      } else if (found.taskName !== taskName) {
        // The row is the truth: a message naming another task is refused, never run; the row is left alone.
        libraryLog.error('message names another task than its task record; refused (not run), it goes to the DLQ', {
          taskId, messageTaskName: taskName, rowTaskName: found.taskName, messageId: delivery.messageId,
        });
        return { kind: 'unprocessed', reason: `task name mismatch: the message says ${taskName}, the row ${found.taskName}` };
      } else if (found.status === TaskStatus.CANCELLED) {
        libraryLog.info('the task was cancelled before it ran; its message is deleted', { taskId, taskName, messageId: delivery.messageId });
      } else {
        libraryLog.warn(`duplicate delivery: the task is already ${found.status}; skipped`, { taskId, taskName, messageId: delivery.messageId });
      }
      return { kind: 'processed', taskId, status: 'skipped' };
    }
    const hardTimeout = hardTimeoutForForeignMessage(task);
    const row = await insertClaimed(em, { id: delivery.messageId, taskName, kwargs, queue: task.queue, hardTimeout }, delivery.messageId);
    if (row) return row;
    libraryLog.warn('duplicate delivery of a message without task_id; skipped', { taskId: delivery.messageId, taskName });
    return { kind: 'processed', taskId: delivery.messageId, status: 'skipped' };
  } catch (error) {
    libraryLog.error('could not claim the task; the message goes back to SQS', { taskId, taskName, messageId: delivery.messageId, error: describeFailure(error) });
    return { kind: 'unprocessed', reason: `claim failed: ${toError(error).message}` };
  }
}

/** Records a claimed row FAILED with a note, without running it (a task that can never fit in the time a worker has). */
async function failWithoutRunning(em: EntityManager, row: TaskRow, task: RegisteredTask, note: string): Promise<DeliveryResult> {
  const written = await fail(em, row.id, row.attempt, { traceback: `${note}\n(task ${task.name} was not run)`, note });
  libraryLog.error(`task FAILED without running: ${note}`, { taskId: row.id, taskName: task.name });
  // Every ended attempt writes one metric line, this one too (it never started: no duration).
  if (written) recordTaskOutcome({ queue: row.queue, taskName: task.name, status: TaskStatus.FAILED, durationMs: 0, taskId: row.id });
  return { kind: 'processed', taskId: row.id, status: TaskStatus.FAILED };
}

/** Puts a claimed row back to QUEUED and sends its message again; a failed send leaves the message to SQS (and the DLQ's reconciliation). */
async function resend(em: EntityManager, row: TaskRow, task: RegisteredTask, send: () => Promise<void>): Promise<DeliveryResult> {
  try {
    await requeue(em, row.id, row.attempt, { runAfter: new Date(), note: null, messageInFlight: true });
    await send();
  } catch (error) {
    libraryLog.error('could not re-send a message for lack of time; it goes back to SQS', { taskId: row.id, taskName: task.name, error: toError(error).message });
    return { kind: 'unprocessed', reason: 're-send failed' };
  }
  return { kind: 'processed', taskId: row.id, status: 'resent' };
}

/** Decodes a message and finds its task, or says why it can be neither run nor handed on. */
export function prepareDelivery(delivery: Delivery): PreparedDelivery | DeliveryResult {
  const decoded = decodeMessageBody(delivery.body);
  if (!decoded.ok) {
    libraryLog.error('malformed task message; it goes to the DLQ', { messageId: delivery.messageId, reason: decoded.reason });
    return { kind: 'unprocessed', reason: `malformed message: ${decoded.reason}` };
  }
  const task = findTask(decoded.body.task_name);
  if (!task) {
    libraryLog.error('message for a task this worker does not know; it goes to the DLQ (pass the task to createHandler)', {
      messageId: delivery.messageId, taskName: decoded.body.task_name, taskId: decoded.body.task_id,
    });
    return { kind: 'unprocessed', reason: `unknown task ${decoded.body.task_name}` };
  }
  return { delivery, body: decoded.body, task };
}

/** What claims a prepared delivery's row: its task id (none for a message without one), task name, message id. */
export function claimRequestOf(prepared: PreparedDelivery): ClaimRequest | undefined {
  const { task_id: id, task_name: taskName } = prepared.body;
  return id ? { id, taskName, messageId: prepared.delivery.messageId } : undefined;
}

/**
 * Handles a prepared message: claims its row unless the worker already did (a body without task_id gets a row
 * keyed by the message id), applies the worker's check before the run, then runs it.
 */
export async function runDelivery(em: EntityManager, prepared: PreparedDelivery, hooks: DeliveryHooks = {}): Promise<DeliveryResult> {
  const { delivery, body, task } = prepared;
  const row = hooks.claimed ?? (await claimRow(em, delivery, body, task, hooks.claimInDoubt));
  if ('kind' in row) return row;

  try {
    const before = hooks.beforeRun?.(task, row) ?? { action: 'run' };
    if (before.action === 'fail') return await failWithoutRunning(em, row, task, before.note);
    if (before.action === 'resend') return await resend(em, row, task, before.send);
    const outcome = await runClaimedTask(em, row, task, hooks.runOptions);
    const status = outcome.status === 'superseded' ? 'skipped' : outcome.status;
    return { kind: 'processed', taskId: row.id, status, hardTimedOut: outcome.hardTimedOut, nextClaimed: outcome.nextClaimed, claimInDoubt: outcome.claimInDoubt };
  } catch (error) {
    // The outcome could not be written (database lost mid-task): the row stays RUNNING until the sweep.
    libraryLog.error('could not record the task outcome; the sweep will mark it FAILED', { taskId: row.id, taskName: task.name, error: toError(error).message });
    return { kind: 'processed', taskId: row.id, status: 'skipped' };
  }
}
