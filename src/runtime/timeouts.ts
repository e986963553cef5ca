import { MAX_TIMEOUT_SECONDS } from './contract';
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
