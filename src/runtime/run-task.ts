/**
 * Runs one claimed task: validates its stored arguments, runs the function in a transaction on a fork with
 * its SUCCESS committed in that same transaction, enforces the soft and hard timeouts, and records the
 * outcome (FAILED, ignored error, retry, singleton busy).
 */
import type { EntityManager } from '@mikro-orm/core';
import { timeoutsOf } from './deadline';
import { HardTimeLimitExceeded, NonRetriableError, SoftTimeLimitExceeded, toError, traceOf } from './errors';
import { toJsonValue } from './json-value';
import { libraryLog, runInTaskScope, taskLogger } from './logger';
import { recordTaskOutcome } from './metrics';
import { currentTransaction, releaseBrokenConnections, stopTransaction } from './orm';
import { findDispatchSubscriber } from './outbox';
import { TaskStatus } from './record';
import { completeAndClaim, releaseClaim, type ClaimRequest, type ClaimToken } from './records/claim';
import { complete } from './records/complete';
import { fail } from './records/end-attempt';
import { requeue } from './records/requeue';
import type { TaskRow } from './records/row';
import { tryAdvisoryLock } from './records/try-advisory-lock';
import type { RegisteredTask } from './registry';
import { retryDelaySeconds, scheduleRetry } from './retries';
import type { TaskContext } from './types';

/** How a claimed task ended. */
export interface TaskOutcome {
  readonly taskId: string;
  readonly taskName: string;
  /**
   * SUCCESS, FAILED or RETRYING; QUEUED when a singleton's lock was taken and the row went back to the queue
   * (not an attempt); `superseded` when the row was no longer this attempt's RUNNING row at the end.
   */
  readonly status: TaskStatus.SUCCESS | TaskStatus.FAILED | TaskStatus.RETRYING | TaskStatus.QUEUED | 'superseded';
  /** For RETRYING: the id of the next attempt's row. */
  readonly nextTaskId?: string;
  /** The error the task threw (also for an ignored error), if any. */
  readonly error?: Error;
  /** True when the hard timeout abandoned its promise, which may still be running in this process. */
  readonly hardTimedOut?: boolean;
}

/** A run's outcome as the worker sees it (not public): also what was claimed with its SUCCESS. */
export interface RunOutcome extends TaskOutcome {
  /**
   * When `claimNext` gave a delivery and the SUCCESS that claimed it committed: its row (null when it was not
   * QUEUED). Undefined when nothing was claimed with the outcome: the caller claims that delivery itself.
   */
  readonly nextClaimed?: TaskRow | null;
  /**
   * The next delivery's claim went out with this task's SUCCESS statement, its transaction did not commit (or its
   * commit is in doubt), and putting that claim back failed: only a row held by exactly this claim is its own.
   */
  readonly claimInDoubt?: ClaimToken;
}

/** Options of a run. */
export interface RunOptions {
  /**
   * Enforce the soft timeout (ctx.signal) and the row's hard timeout, as a worker does; eager mode and drainTasks do not.
   * @default false
   */
  readonly enforceTimeouts?: boolean;
  /**
   * Run in this process (eager mode, drainTasks): a row put back to QUEUED is left for a later drain, not sent.
   * @default false
   */
  readonly inProcess?: boolean;
  /**
   * The delivery this worker runs next, asked for just before the SUCCESS update: claimed in that same
   * statement (see `completeAndClaim`), so it commits with this task. Undefined: nothing to claim.
   */
  readonly claimNext?: () => ClaimRequest | undefined;
}

/** Thrown inside the task's transaction when the SUCCESS update found no RUNNING row: rolls it back. */
class ClaimLost extends Error {}

/** Thrown inside the task's transaction when a singleton task's advisory lock is taken. */
class SingletonBusy extends Error {}

/**
 * Runs a claimed (RUNNING) row: validates its kwargs, runs the task in a transaction on a fork
 * with SUCCESS committed in that same transaction, or — after the rollback — FAILED, or SUCCESS
 * with the stack for an `ignoreErrors` match. Every outcome update is conditional on the row
 * still being this attempt's RUNNING row, and written through a fork with no transaction (in eager
 * mode `em` comes from a commit hook whose transaction has ended). Never throws for the task's own failures.
 */
export async function runClaimedTask(em: EntityManager, row: TaskRow, task: RegisteredTask, options: RunOptions = {}): Promise<RunOutcome> {
  const started = Date.now();
  const fold: NextClaim = {};
  let outcome: RunOutcome = await runAttempt(em, row, task, options, started, fold);
  if (fold.request) {
    const committed = outcome.status === TaskStatus.SUCCESS && !outcome.error;
    if (committed && fold.claimed !== undefined) {outcome = { ...outcome, nextClaimed: fold.claimed?.row ?? null };} else if (fold.claimed) {
      // The statement claimed the next row, but its transaction did not commit or its commit is in doubt: put back
      // that very claim (never one another invocation made for its own receive of the same message).
      const token = fold.claimed.token;
      if (!(await releaseClaim(em.fork(), token).then(() => true, () => false))) outcome = { ...outcome, claimInDoubt: token };
    }
    // No claimed row: nothing was claimed (null), or the statement never returned and its transaction cannot have committed.
  }
  if (outcome.status === TaskStatus.SUCCESS || outcome.status === TaskStatus.FAILED || outcome.status === TaskStatus.RETRYING) {
    recordTaskOutcome({ queue: row.queue, taskName: task.name, status: outcome.status, durationMs: Date.now() - started, taskId: row.id });
  }
  return outcome;
}

/** The delivery claimed with this task's SUCCESS: what was asked, and the row and claim once the statement returned. */
interface NextClaim {
  request?: ClaimRequest;
  claimed?: { row: TaskRow; token: ClaimToken } | null;
}

async function runAttempt(em: EntityManager, row: TaskRow, task: RegisteredTask, options: RunOptions, started: number, fold: NextClaim): Promise<TaskOutcome> {
  const own = em.fork();
  const base = { taskId: row.id, taskName: task.name };
  const log = (status: string, extra: Record<string, unknown> = {}) =>
    libraryLog.info(`task ${status}`, { taskId: row.id, taskName: task.name, attempt: row.attempt, durationMs: Date.now() - started, ...extra });

  let output: unknown;
  try {
    output = task.validate(row.kwargs, 'kwargs').output;
  } catch (error) {
    const failure = toError(error);
    await fail(own, row.id, row.attempt, { traceback: traceOf(failure), note: 'invalid arguments' });
    log('FAILED', { reason: failure.message });
    return { ...base, status: TaskStatus.FAILED, error: failure };
  }

  const timeouts = options.enforceTimeouts ? timeoutsOf(task, row) : undefined;
  const deadline = timeouts && started + timeouts.hardTimeout * 1000;
  const controller = new AbortController();
  const softTimer = timeouts && setTimeout(() => controller.abort(new SoftTimeLimitExceeded(timeouts.softTimeout)), timeouts.softTimeout * 1000);
  let hardTimer: NodeJS.Timeout | undefined;
  let transaction: unknown;
  let thrown: Error | undefined;
  let settled = false;
  // The hard timeout bounds the task's function; once it has returned in time, writing its SUCCESS is not cut short
  // (only a lock another transaction holds on its own row could delay that, and that is no reason to record FAILED).
  let returned = false;
  // `own` carries no transaction (unlike an eager-mode commit hook's em), so this starts a new one, not a savepoint.
  const work = own.transactional(async (tem) => {
    transaction = currentTransaction(tem);
    if (task.singletonKey && !(await tryAdvisoryLock(tem, task.singletonKey(output)))) throw new SingletonBusy();
    const ctx: TaskContext = { em: tem, taskId: row.id, rootId: row.root_id, taskName: task.name, attempt: row.attempt, signal: controller.signal, logger: taskLogger };
    const value = await runInTaskScope({ taskId: row.id, taskName: task.name }, () => task.fn(output, ctx));
    // A run that overran (a synchronous loop cannot be interrupted) is rolled back, never committed.
    if (deadline !== undefined && Date.now() > deadline) throw new HardTimeLimitExceeded(timeouts!.hardTimeout);
    returned = true;
    const result = toJsonValue(value === undefined ? null : value, 'result', (reason) => new TypeError(`the task returned a value that cannot be stored: ${reason}`));
    fold.request = options.claimNext?.();
    const written = fold.request
      ? await completeAndClaim(tem, row.id, row.attempt, { result }, fold.request)
      : { completed: await complete(tem, row.id, row.attempt, { result }), next: undefined };
    if (!written.completed) throw new ClaimLost();
    fold.claimed = written.next;
  });
  // After a hard timeout the promise is abandoned but still runs here: its late rejection must not crash the process.
  work.then(() => (settled = true), () => (settled = true));
  const hardLimit = timeouts && new Promise<'hard'>((resolve) => (hardTimer = setTimeout(() => !returned && resolve('hard'), timeouts.hardTimeout * 1000)));
  let timedOut = false;
  try {
    timedOut = (await Promise.race(hardLimit ? [work, hardLimit] : [work])) === 'hard';
  } catch (error) {
    thrown = toError(error);
    await releaseBrokenConnections(own);
  } finally {
    if (softTimer) clearTimeout(softTimer);
    if (hardTimer) clearTimeout(hardTimer);
  }

  if (timedOut || thrown instanceof HardTimeLimitExceeded) {
    const error = thrown ?? new HardTimeLimitExceeded(timeouts!.hardTimeout);
    if (!controller.signal.aborted) controller.abort(error);
    if (timedOut) await stopTransaction(own, transaction);
    const written = await writeOutcome(em, own, (outcomeEm) => fail(outcomeEm, row.id, row.attempt, { traceback: traceOf(error), note: 'hard timeout' }));
    // Abandoned only when its promise is still pending: then the rest of the batch must not run beside it.
    const abandoned = timedOut && !settled;
    log(written ? 'FAILED (hard timeout)' : 'stopped at its hard timeout; outcome not written', { abandoned });
    return { ...base, status: written ? TaskStatus.FAILED : 'superseded', error, hardTimedOut: abandoned };
  }
  if (!thrown) {
    log('SUCCESS');
    return { ...base, status: TaskStatus.SUCCESS };
  }
  if (thrown instanceof ClaimLost) {
    libraryLog.warn('task finished but its row was no longer RUNNING for this attempt (swept or run elsewhere); its writes were rolled back', { taskId: row.id, taskName: task.name });
    return { ...base, status: 'superseded' };
  }
  if (thrown instanceof SingletonBusy) return singletonBusy(own, row, task, options, log);
  const retryable = !(thrown instanceof NonRetriableError) && task.retry.on.some((cls) => thrown instanceof cls) && row.attempt <= task.retry.maxRetries;
  if (retryable) {
    const delay = retryDelaySeconds(task.retry.delay, row.attempt);
    return scheduleRetry(own, row, task, thrown, delay, `${thrown.name}: retry ${row.attempt} of ${task.retry.maxRetries}`);
  }
  const ignored = task.ignoreErrors.some((cls) => thrown instanceof cls);
  const written = await writeOutcome(em, own, (outcomeEm) => ignored
    ? complete(outcomeEm, row.id, row.attempt, { result: null, traceback: traceOf(thrown), note: `ignored ${thrown.name}` })
    : fail(outcomeEm, row.id, row.attempt, { traceback: traceOf(thrown) }));
  if (!written) {
    libraryLog.warn('task outcome not written: the row was no longer RUNNING for this attempt', { taskId: row.id, taskName: task.name });
    return { ...base, status: 'superseded', error: thrown };
  }
  log(ignored ? 'SUCCESS (ignored error)' : 'FAILED', { error: `${thrown.name}: ${thrown.message}` });
  return { ...base, status: ignored ? TaskStatus.SUCCESS : TaskStatus.FAILED, error: thrown };
}

/**
 * Writes an outcome, and once more on a fresh fork if that fails: the connection the task's transaction died on
 * (killed at COMMIT, say) can still be in the pool, and an outcome lost here would leave the row RUNNING until
 * the sweep marks it FAILED for a lost worker instead of with the task's own error.
 */
async function writeOutcome<T>(em: EntityManager, own: EntityManager, write: (outcomeEm: EntityManager) => Promise<T>): Promise<T> {
  try {
    return await write(own);
  } catch (error) {
    libraryLog.warn('could not write the task outcome; trying once more on a fresh connection', { error: toError(error).message });
    await releaseBrokenConnections(own);
    return write(em.fork());
  }
}

/**
 * A singleton whose lock is taken: with `retrySingleton`, the same row and attempt go back to QUEUED to
 * run after `retryDelay` (contention is not an attempt and never uses up `maxRetries`); a worker sends the
 * message again now, an in-process run leaves the row for a later drain. Without it, SUCCESS with a note.
 */
async function singletonBusy(em: EntityManager, row: TaskRow, task: RegisteredTask, options: RunOptions, log: (status: string) => void): Promise<TaskOutcome> {
  const base = { taskId: row.id, taskName: task.name };
  const note = 'singleton: another run holds its lock';
  if (!task.retrySingleton) {
    const written = await complete(em, row.id, row.attempt, { result: null, note: `skipped: ${note}` });
    log('SUCCESS (skipped: singleton busy)');
    return { ...base, status: written ? TaskStatus.SUCCESS : 'superseded' };
  }
  const runAfter = new Date(Date.now() + task.retry.delay * 1000);
  if (!(await requeue(em, row.id, row.attempt, { runAfter, note: `${note}; queued again`, messageInFlight: false }))) return { ...base, status: 'superseded' };
  log(`QUEUED again in ${task.retry.delay} s (singleton busy)`);
  if (!options.inProcess) {
    await findDispatchSubscriber(em).registerInserted(em, [{ id: row.id, taskName: task.name, kwargs: row.kwargs, queue: row.queue, runAfter }]);
  }
  return { ...base, status: TaskStatus.QUEUED };
}
