import type { EntityManager } from '@mikro-orm/core';
import { getLambdaTasksConfig } from './config';

import { findDispatchSubscriber, setEagerRunner } from './dispatch';
import { HardTimeLimitExceeded, NonRetriableError, SoftTimeLimitExceeded, TaskNotRegisteredError, toError } from './errors';
import { toJsonValue } from './json-value';
import { libraryLog, runInTaskScope, taskLogger } from './logger';
import { decodeMessageBody, type MessageBody } from './message';
import { TaskStatus } from './record';
import { claim } from './records/claim';
import { complete } from './records/complete';
import { fail } from './records/fail';
import { findStatus } from './records/findStatus';
import { insertClaimed } from './records/insertClaimed';
import { insertQueued } from './records/insertQueued';
import { markRetrying } from './records/markRetrying';
import type { TaskRow } from './records/row';
import { selectQueuedIdsInOrder } from './records/selectQueuedIdsInOrder';
import { tryAdvisoryLock } from './records/tryAdvisoryLock';
import { retryDelaySeconds } from './retries';
import { queryRowsOutsideTransaction } from './sql';
import { findTask, type RegisteredTask } from './task';
import { stopTransaction } from './timeouts';
import type { TaskContext } from './types';

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

/** How a claimed task ended. */
export interface TaskOutcome {
  readonly taskId: string;
  readonly taskName: string;
  /** SUCCESS or FAILED; `superseded` when the row was no longer this attempt's RUNNING row at the end. */
  readonly status: TaskStatus.SUCCESS | TaskStatus.FAILED | TaskStatus.RETRYING | 'superseded';
  /** For RETRYING: the id of the next attempt's row. */
  readonly nextTaskId?: string;
  /** The error the task threw (also for an ignored error), if any. */
  readonly error?: Error;
  /** True when the hard timeout stopped it (its promise was abandoned, still running in this process). */
  readonly hardTimedOut?: boolean;
}

/** Options of a run. */
export interface RunOptions {
  /**
   * Enforce the soft timeout (ctx.signal) and the row's hard timeout, as a worker does; eager mode and drainTasks do not.
   * @default false
   */
  readonly enforceTimeouts?: boolean;
}

/** The soft and hard timeouts a worker enforces: hard is the row's (fixed at enqueue), soft the task's, below it. */
function timeoutsOf(task: RegisteredTask, row: TaskRow): { softTimeout: number; hardTimeout: number } {
  const hardTimeout = row.hard_timeout;
  let softTimeout = hardTimeout - 1;
  try {
    softTimeout = Math.min(task.resolveTimeouts().softTimeout, hardTimeout - 1);
  } catch {
    // The configuration changed since enqueue: keep the row's hard timeout and a soft one just below it.
  }
  return { softTimeout: Math.max(1, softTimeout), hardTimeout };
}

/** Thrown inside the task's transaction when the SUCCESS update found no RUNNING row: rolls it back. */
class ClaimLost extends Error {}

/** Thrown inside the task's transaction when a singleton task's advisory lock is taken. */
class SingletonBusy extends Error {}

/**
 * Records this attempt RETRYING (with the error's stack) and inserts the next attempt — a new row, attempt + 1,
 * same root id, run after `delaySeconds` — in one transaction; its message is sent when that commits.
 */
async function scheduleRetry(em: EntityManager, row: TaskRow, task: RegisteredTask, error: Error | null, delaySeconds: number, reason: string): Promise<TaskOutcome> {
  const next = {
    id: globalThis.crypto.randomUUID(),
    taskName: task.name,
    kwargs: row.kwargs,
    queue: row.queue,
    hardTimeout: row.hard_timeout,
    runAfter: new Date(Date.now() + delaySeconds * 1000),
    attempt: row.attempt + 1,
    rootId: row.root_id,
  };
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

function traceOf(error: Error): string {
  return error.stack ?? `${error.name}: ${error.message}`;
}

/**
 * Runs a claimed (RUNNING) row: validates its kwargs, runs the task in a transaction on a fork
 * with SUCCESS committed in that same transaction, or — after the rollback — FAILED, or SUCCESS
 * with the stack for an `ignoreErrors` match. Every outcome update is conditional on the row
 * still being this attempt's RUNNING row. Never throws for the task's own failures.
 */
export async function runClaimedTask(em: EntityManager, row: TaskRow, task: RegisteredTask, options: RunOptions = {}): Promise<TaskOutcome> {
  const started = Date.now();
  const base = { taskId: row.id, taskName: task.name };
  const log = (status: string, extra: Record<string, unknown> = {}) =>
    libraryLog.info(`task ${status}`, { taskId: row.id, taskName: task.name, attempt: row.attempt, durationMs: Date.now() - started, ...extra });

  let output: unknown;
  try {
    output = task.validate(row.kwargs, 'kwargs').output;
  } catch (error) {
    const failure = toError(error);
    await fail(em, row.id, row.attempt, { traceback: traceOf(failure), note: 'invalid arguments' });
    log('FAILED', { reason: failure.message });
    return { ...base, status: TaskStatus.FAILED, error: failure };
  }

  const timeouts = options.enforceTimeouts ? timeoutsOf(task, row) : undefined;
  const controller = new AbortController();
  const softTimer = timeouts && setTimeout(() => controller.abort(new SoftTimeLimitExceeded(timeouts.softTimeout)), timeouts.softTimeout * 1000);
  let hardTimer: NodeJS.Timeout | undefined;
  let transaction: unknown;
  let thrown: Error | undefined;
  // fork() first: in eager mode `em` comes from a commit hook and still carries that transaction's context;
  // transactional() on it would join the finished transaction as a savepoint (tests catch it).
  const work = em.fork().transactional(async (tem) => {
    transaction = tem.getTransactionContext();
    if (task.singletonKey && !(await tryAdvisoryLock(tem, task.singletonKey(output)))) throw new SingletonBusy();
    const ctx: TaskContext = { em: tem, taskId: row.id, rootId: row.root_id, taskName: task.name, attempt: row.attempt, signal: controller.signal, logger: taskLogger };
    const value = await runInTaskScope({ taskId: row.id, taskName: task.name }, () => task.fn(output, ctx));
    const result = toJsonValue(value === undefined ? null : value, 'result', (reason) => new TypeError(`the task returned a value that is not JSON: ${reason}`));
    if (!(await complete(tem, row.id, row.attempt, { result }))) throw new ClaimLost();
  });
  // After a hard timeout the promise is abandoned but still runs here: its late rejection must not crash the process.
  work.catch(() => undefined);
  const hardLimit = timeouts && new Promise<'hard'>((resolve) => (hardTimer = setTimeout(() => resolve('hard'), timeouts.hardTimeout * 1000)));
  let timedOut = false;
  try {
    timedOut = (await Promise.race(hardLimit ? [work, hardLimit] : [work])) === 'hard';
  } catch (error) {
    thrown = toError(error);
  } finally {
    if (softTimer) clearTimeout(softTimer);
    if (hardTimer) clearTimeout(hardTimer);
  }

  if (timedOut) {
    if (!controller.signal.aborted) controller.abort(new HardTimeLimitExceeded(timeouts!.hardTimeout));
    await stopTransaction(transaction, (pid) => queryRowsOutsideTransaction(em, 'select pg_cancel_backend(?)', [pid]));
    const error = new HardTimeLimitExceeded(timeouts!.hardTimeout);
    const written = await fail(em, row.id, row.attempt, { traceback: traceOf(error), note: 'hard timeout' });
    log(written ? 'FAILED (hard timeout)' : 'stopped at its hard timeout; outcome not written', {});
    return { ...base, status: written ? TaskStatus.FAILED : 'superseded', error, hardTimedOut: true };
  }
  if (!thrown) {
    log('SUCCESS');
    return { ...base, status: TaskStatus.SUCCESS };
  }
  if (thrown instanceof ClaimLost) {
    libraryLog.warn('task finished but its row was no longer RUNNING for this attempt (swept or run elsewhere); its writes were rolled back', { taskId: row.id, taskName: task.name });
    return { ...base, status: 'superseded' };
  }
  if (thrown instanceof SingletonBusy) {
    const note = 'singleton: another run holds its lock';
    if (task.retrySingleton) return scheduleRetry(em, row, task, null, task.retry.delay, `${note}; retrying`);
    await complete(em, row.id, row.attempt, { result: null, note: `skipped: ${note}` });
    log('SUCCESS (skipped: singleton busy)');
    return { ...base, status: TaskStatus.SUCCESS };
  }
  const retryable = !(thrown instanceof NonRetriableError) && task.retry.on.some((cls) => thrown instanceof cls) && row.attempt <= task.retry.maxRetries;
  if (retryable) {
    const delay = retryDelaySeconds(task.retry.delay, row.attempt);
    return scheduleRetry(em, row, task, thrown, delay, `${thrown.name}: retry ${row.attempt} of ${task.retry.maxRetries}`);
  }
  const ignored = task.ignoreErrors.some((cls) => thrown instanceof cls);
  const written = ignored
    ? await complete(em, row.id, row.attempt, { result: null, traceback: traceOf(thrown), note: `ignored ${thrown.name}` })
    : await fail(em, row.id, row.attempt, { traceback: traceOf(thrown) });
  if (!written) {
    libraryLog.warn('task outcome not written: the row was no longer RUNNING for this attempt', { taskId: row.id, taskName: task.name });
    return { ...base, status: 'superseded', error: thrown };
  }
  log(ignored ? 'SUCCESS (ignored error)' : 'FAILED', { error: `${thrown.name}: ${thrown.message}` });
  return { ...base, status: ignored ? TaskStatus.SUCCESS : TaskStatus.FAILED, error: thrown };
}

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

/**
 * Claims a QUEUED row by id and runs it in this process (eager mode, drainTasks): no timeouts,
 * no message id. Returns null when the row is not QUEUED (already run, or gone).
 */
export async function runQueuedTaskNow(em: EntityManager, id: string, taskName: string): Promise<TaskOutcome | null> {
  const task = findTask(taskName);
  if (!task) throw new TaskNotRegisteredError(taskName);
  const row = await claim(em, id, null);
  if (!row) return null;
  return runClaimedTask(em, row, task);
}

/** Eager mode: committed invocations run here, one after the other, before the flush/commit resolves. */
async function runEagerly(em: EntityManager, tasks: readonly { id: string; taskName: string }[]): Promise<void> {
  const { eagerPropagate } = getLambdaTasksConfig();
  for (const { id, taskName } of tasks) {
    const outcome = await runQueuedTaskNow(em, id, taskName);
    if (eagerPropagate && outcome?.status === TaskStatus.FAILED && outcome.error) throw outcome.error;
  }
}
setEagerRunner(runEagerly);

/** Options of `drainTasks` (`cdk-lambda-tasks/runtime/testing`). */
export interface DrainOptions {
  /**
   * Only tasks of these names.
   * @default - every task
   */
  readonly taskNames?: readonly string[];
}

/** Runs every QUEUED task now, oldest first, including tasks those tasks enqueue; returns the outcomes. */
export async function drainQueuedTasks(em: EntityManager, options: DrainOptions = {}): Promise<TaskOutcome[]> {
  const outcomes: TaskOutcome[] = [];
  for (;;) {
    const queued = await selectQueuedIdsInOrder(em, options.taskNames);
    if (queued.length === 0) return outcomes;
    let ran = 0;
    for (const { id, task_name: taskName } of queued) {
      const outcome = await runQueuedTaskNow(em, id, taskName);
      if (outcome) {
        outcomes.push(outcome);
        ran++;
      }
    }
    if (ran === 0) return outcomes;
  }
}
