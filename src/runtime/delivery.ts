/**
 * Handles one SQS message: decode it, find its task, claim its row (committed on its own), then run it.
 * Says for each message whether SQS may delete it (`processed`) or it belongs in batchItemFailures.
 */
import type { EntityManager } from '@mikro-orm/core';
import { toError } from './errors';
import { libraryLog } from './logger';
import { decodeMessageBody, type MessageBody } from './message';
import { TaskStatus } from './record';
import { claim } from './records/claim';
import { fail } from './records/fail';
import { findStatus } from './records/find-status';
import { insertClaimed } from './records/insert-claimed';
import type { TaskRow } from './records/row';
import { findTask, type RegisteredTask } from './registry';
import { runClaimedTask, type RunOptions } from './run-task';

/** One SQS message as the executor needs it. */
export interface Delivery {
  readonly messageId: string;
  readonly body: string;
}

/**
 * What became of a delivery: `processed` (SQS may delete it: the task ran, failed, or the message
 * was a duplicate), or `unprocessed` (it could be neither run nor handed on: a malformed body, an
 * unknown task, or an infrastructure failure before the claim committed; it belongs in batchItemFailures).
 */
export type DeliveryResult =
  | { readonly kind: 'processed'; readonly taskId: string | null; readonly status: TaskStatus | 'skipped' | 'resent'; readonly hardTimedOut?: boolean }
  | { readonly kind: 'unprocessed'; readonly reason: string };

/** How the worker adapts the handling of one message. */
export interface DeliveryHooks {
  /** How to run the task. */
  readonly runOptions?: RunOptions;
  /** Called after decoding, before the claim: a result here (re-sent, failed for lack of time) ends the delivery. */
  readonly beforeClaim?: (task: RegisteredTask, body: MessageBody) => Promise<DeliveryResult | undefined>;
}

/**
 * Claims the message's row and records it FAILED with a note, without running it
 * (a task that can never fit in the time a worker has). Returns the delivery result.
 */
export async function failWithoutRunning(
  em: EntityManager,
  delivery: Delivery,
  body: MessageBody,
  task: RegisteredTask,
  note: string,
): Promise<DeliveryResult> {
  const row = await claimRow(em, delivery, body, task);
  if ('kind' in row) return row;
  await fail(em, row.id, row.attempt, { traceback: `${note}\n(task ${task.name} was not run)`, note });
  libraryLog.error(`task FAILED without running: ${note}`, { taskId: row.id, taskName: task.name });
  return { kind: 'processed', taskId: row.id, status: TaskStatus.FAILED };
}

/** Claims the row of a message (inserting one for a message without task_id), or says why not. */
async function claimRow(em: EntityManager, delivery: Delivery, body: MessageBody, task: RegisteredTask): Promise<TaskRow | DeliveryResult> {
  const { task_id: taskId, task_name: taskName, kwargs } = body;
  try {
    if (taskId) {
      const row = await claim(em, taskId, delivery.messageId);
      if (row) return row;
      const status = await findStatus(em, taskId);
      if (status === null) libraryLog.warn('message for a task record that does not exist (rolled back or cleaned up); skipped', { taskId, taskName, messageId: delivery.messageId });
      else libraryLog.warn(`duplicate delivery: the task is already ${status}; skipped`, { taskId, taskName, messageId: delivery.messageId });
      return { kind: 'processed', taskId, status: 'skipped' };
    }
    const { hardTimeout } = task.resolveTimeouts();
    const row = await insertClaimed(em, { id: delivery.messageId, taskName, kwargs, queue: task.queue, hardTimeout }, delivery.messageId);
    if (row) return row;
    libraryLog.warn('duplicate delivery of a message without task_id; skipped', { taskId: delivery.messageId, taskName });
    return { kind: 'processed', taskId: delivery.messageId, status: 'skipped' };
  } catch (error) {
    libraryLog.error('could not claim the task (database unreachable?); the message goes back to SQS', { taskId, taskName, messageId: delivery.messageId, error: toError(error).message });
    return { kind: 'unprocessed', reason: `claim failed: ${toError(error).message}` };
  }
}

/**
 * Handles one SQS message: decode, find the task, claim its row (committed on its own; a
 * body without task_id gets a row keyed by the message id), then run it.
 */
export async function executeDelivery(em: EntityManager, delivery: Delivery, hooks: DeliveryHooks = {}): Promise<DeliveryResult> {
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
  const early = await hooks.beforeClaim?.(task, decoded.body);
  if (early) return early;
  const row = await claimRow(em, delivery, decoded.body, task);
  if ('kind' in row) return row;

  try {
    const outcome = await runClaimedTask(em, row, task, hooks.runOptions);
    const status = outcome.status === 'superseded' ? 'skipped' : outcome.status;
    return { kind: 'processed', taskId: row.id, status, hardTimedOut: outcome.hardTimedOut };
  } catch (error) {
    // The outcome could not be written (database lost mid-task): the row stays RUNNING until the sweep.
    libraryLog.error('could not record the task outcome; the sweep will mark it FAILED', { taskId: row.id, taskName: task.name, error: toError(error).message });
    return { kind: 'processed', taskId: row.id, status: 'skipped' };
  }
}
