import { MAX_TIMEOUT_SECONDS } from './config';
import { TimeoutRangeError } from './errors';
import type { ResolvedTimeouts } from './types';

/** A task's own timeouts, as given to `lambdaTask` (either may be absent). */
export interface GivenTimeouts {
  readonly softTimeout?: number;
  readonly hardTimeout?: number;
}

/** The configured defaults and the queue's limit that a task without its own timeouts falls back to. */
export interface TimeoutDefaults {
  readonly defaultSoftTimeout: number;
  readonly defaultHardTimeout: number;
  /** The queue's maxHardTimeout (900 when the queue does not say). */
  readonly queueMaxHardTimeout: number;
  readonly queue: string;
}

/** Checks a timeout given at definition: an integer from 1 to 900 seconds. */
export function checkTimeoutValue(task: string, field: 'softTimeout' | 'hardTimeout', value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_SECONDS) {
    throw new TimeoutRangeError(task, field, `${String(value)} is not an integer number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
}

/**
 * Resolves a task's timeouts (a pure function):
 * hard = the task's value, else min(default hard, queue max) — or, when only soft is
 * given, max(default hard, soft + 1) capped at the queue max; soft = the task's value,
 * else min(default soft, hard − 1). Anything inconsistent throws `TimeoutRangeError`.
 */
export function resolveTimeouts(task: string, given: GivenTimeouts, defaults: TimeoutDefaults): ResolvedTimeouts {
  const max = defaults.queueMaxHardTimeout;
  let hardTimeout: number;
  if (given.hardTimeout !== undefined) {
    hardTimeout = given.hardTimeout;
    if (hardTimeout > max) {
      throw new TimeoutRangeError(task, 'hardTimeout', `${hardTimeout} s exceeds the maxHardTimeout of queue "${defaults.queue}" (${max} s); raise the queue's hardTimeout or lower the task's`);
    }
  } else if (given.softTimeout !== undefined) {
    hardTimeout = Math.min(Math.max(defaults.defaultHardTimeout, given.softTimeout + 1), max);
  } else {
    hardTimeout = Math.min(defaults.defaultHardTimeout, max);
  }
  const softTimeout = given.softTimeout ?? Math.min(defaults.defaultSoftTimeout, hardTimeout - 1);
  if (softTimeout < 1 || softTimeout >= hardTimeout) {
    throw new TimeoutRangeError(
      task,
      'softTimeout',
      `the soft timeout (${softTimeout} s) must be at least 1 s and below the hard timeout (${hardTimeout} s, queue "${defaults.queue}" allows ${max} s)`,
    );
  }
  return { softTimeout, hardTimeout };
}

/** Seconds kept free at the end of a Lambda invocation: a task starts only if its hard timeout plus this fits. */
export const DEADLINE_MARGIN_SECONDS = 10;

/** How many times a message is re-sent for lack of time before its task is recorded FAILED. */
export const MAX_DEADLINE_RESENDS = 3;

interface KnexTransactorLike {
  client?: { acquireConnection?: () => Promise<unknown> };
  rollback?: () => Promise<unknown> | unknown;
}

/**
 * Stops a task's transaction at its hard timeout: on PostgreSQL first cancels the statement its
 * connection may be running (`pg_cancel_backend` with the pid node-postgres already knows, sent
 * over another pooled connection), then rolls the transaction back. On PGlite there is no
 * statement to cancel from here (a running statement blocks the event loop).
 */
export async function stopTransaction(trx: unknown, cancel: (pid: number) => Promise<unknown>): Promise<void> {
  const transactor = trx as KnexTransactorLike | undefined;
  if (!transactor) return;
  try {
    const connection = (await transactor.client?.acquireConnection?.()) as { processID?: unknown } | undefined;
    if (typeof connection?.processID === 'number') await cancel(connection.processID);
  } catch {
    // Best effort: the rollback below still ends the transaction once the statement returns.
  }
  try {
    await transactor.rollback?.();
  } catch {
    // Already finished or broken: nothing left to roll back.
  }
}
