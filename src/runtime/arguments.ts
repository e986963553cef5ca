/**
 * Argument checks at enqueue and at run: the object shape, unknown keys, the zod schema, and that what is
 * stored survives a JSON round trip; and the delay of an invocation.
 */
import type * as zc from 'zod/v4/core';
import { MAX_RUN_AHEAD_SECONDS, MAX_TIMEOUT_SECONDS } from './contract';
import { TaskValidationError } from './errors';
import { isDate, jsonValueFault, toJsonValue } from './json-value';
import type { RegisteredTask } from './registry';
import type { TaskArgsSchema } from './task-types';
import { formatZodIssues } from './zod-issues';

/** Builds the validator of a task's arguments: the JSON input to store and the parsed output to run with. */
export function makeValidator(name: string, schema: TaskArgsSchema): RegisteredTask['validate'] {
  const allowed = Object.keys(schema._zod.def.shape);
  const allowedSet = new Set(allowed);
  const parseSchema = schema as unknown as { safeParse(v: unknown): { success: boolean; data?: unknown; error?: { issues: zc.$ZodIssue[] } } };
  return (args, field = 'args') => {
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw new TaskValidationError(name, field, `expected an object of arguments, got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`);
    }
    const unknownKeys = Object.keys(args).filter((k) => !allowedSet.has(k));
    if (unknownKeys.length > 0) {
      throw new TaskValidationError(name, field, `unknown argument(s) ${unknownKeys.map((k) => `"${k}"`).join(', ')}; the schema allows: ${allowed.join(', ') || '(none)'}`);
    }
    let parsed: ReturnType<typeof parseSchema.safeParse>;
    try {
      parsed = parseSchema.safeParse(args);
    } catch (error) {
      // A recursive schema over a very deeply nested value overflows the stack.
      if (error instanceof RangeError) throw new TaskValidationError(name, field, `cannot be validated (${error.message}): nest it less deeply`);
      throw error;
    }
    if (!parsed.success) {
      // Arguments that cannot be stored at all say so first: whatever the schema says of them, that is the fix.
      const fault = jsonValueFault(args, field);
      throw new TaskValidationError(name, field, fault ? `${fault}; task arguments are stored and sent as JSON` : formatZodIssues(parsed.error?.issues ?? []));
    }
    const input = toJsonValue(args as Record<string, unknown>, field, (reason) => new TaskValidationError(name, field, `${reason}; task arguments are stored and sent as JSON`));
    return { input, output: parsed.data };
  };
}

/** Checks a delay in seconds (0..900, SQS DelaySeconds); returns it, 0 when absent. */
export function checkDelay(name: string, delay: unknown): number {
  if (delay === undefined) return 0;
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > MAX_TIMEOUT_SECONDS) {
    throw new TaskValidationError(name, 'delay', `${String(delay)} is not an integer number of seconds from 0 to ${MAX_TIMEOUT_SECONDS} (SQS's largest delay)`);
  }
  return delay;
}

/**
 * When an invocation may run, from `delay` (seconds) or `runAt` (a Date, of any realm), at most one of them: now when neither
 * is given, now for a `runAt` in the past. Beyond SQS's 900 s the row waits in the table and the maintenance
 * relay sends it when it is due within 900 s.
 */
export function checkRunAfter(name: string, delay: unknown, runAt: unknown, now = Date.now()): Date {
  if (delay !== undefined && runAt !== undefined) throw new TaskValidationError(name, 'runAt', 'give delay or runAt, not both');
  if (runAt !== undefined) {
    // A Date of any realm (isDate), read through this realm's Date so a look-alike object cannot pass.
    const at = isDate(runAt) ? Date.prototype.getTime.call(runAt) : Number.NaN;
    if (Number.isNaN(at)) throw new TaskValidationError(name, 'runAt', `${String(runAt)} is not a valid Date`);
    if (at - now > MAX_RUN_AHEAD_SECONDS * 1000) {
      throw new TaskValidationError(name, 'runAt', `${new Date(at).toISOString()} is more than ${MAX_RUN_AHEAD_SECONDS / 86_400} days ahead`);
    }
    return new Date(Math.max(now, at));
  }
  if (delay === undefined) return new Date(now);
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0) {
    throw new TaskValidationError(name, 'delay', `${String(delay)} is not a whole number of seconds (0 or more)`);
  }
  if (delay > MAX_RUN_AHEAD_SECONDS) {
    throw new TaskValidationError(name, 'delay', `${delay} s is more than ${MAX_RUN_AHEAD_SECONDS / 86_400} days: delay is in seconds (not milliseconds); for a date, use runAt`);
  }
  return new Date(now + delay * 1000);
}
