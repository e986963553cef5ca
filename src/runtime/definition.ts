/**
 * Definition-time checks of `lambdaTask(options, fn)`: every option, with an error that names the task and
 * the field; and the fingerprint that tells a re-definition of the same task from a conflicting one.
 */
import { MAX_TIMEOUT_SECONDS, QUEUE_NAME_PATTERN, TASK_NAME_PATTERN } from './contract';
import { TaskDefinitionError, TimeoutRangeError } from './errors';
import type { LambdaTaskOptions, TaskArgsSchema } from './task-types';
import { checkTimeoutValue } from './timeouts';
import type { ErrorClass } from './types';

const KNOWN_OPTIONS = new Set(['name', 'args', 'softTimeout', 'hardTimeout', 'queue', 'ignoreErrors', 'retryOn', 'maxRetries', 'retryDelay', 'singleton', 'retrySingleton']);

/** A schema of zod 3's classic API (`_def` without zod 4's `_zod`): zod 3.25 ships both; only `zod/v4` schemas are read. */
function isClassicZod3Schema(schema: unknown): boolean {
  const value = schema as { _def?: unknown; _zod?: unknown } | null;
  return typeof value === 'object' && value !== null && value._def !== undefined && value._zod === undefined;
}

function isObjectSchema(schema: unknown): schema is TaskArgsSchema {
  const def = (schema as { _zod?: { def?: { type?: unknown; shape?: unknown } } } | null)?._zod?.def;
  return def?.type === 'object' && typeof def.shape === 'object' && def.shape !== null;
}

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && (value === Error || (value as { prototype?: unknown }).prototype instanceof Error);
}

/** Identifies a definition, so re-defining the same task (a module reload) is allowed. */
export function fingerprintOf(options: LambdaTaskOptions<TaskArgsSchema>, fn: Function): string {
  return JSON.stringify({
    queue: options.queue ?? 'default',
    soft: options.softTimeout ?? null,
    hard: options.hardTimeout ?? null,
    ignore: (options.ignoreErrors ?? []).map((c) => c.name),
    retry: [(options.retryOn ?? []).map((c) => c.name), options.maxRetries ?? null, options.retryDelay ?? null],
    singleton: [String(options.singleton ?? false), options.retrySingleton ?? null],
    shape: Object.keys(options.args._zod.def.shape),
    fn: fn.toString(),
  });
}

/** Checks a definition; throws `TaskDefinitionError` or `TimeoutRangeError` naming the task and the field. */
export function checkDefinition(options: LambdaTaskOptions<TaskArgsSchema>, fn: unknown): void {
  const rawName: unknown = (options as { name?: unknown } | undefined)?.name;
  const name = typeof rawName === 'string' ? rawName : '';
  if (typeof options !== 'object' || options === null) throw new TaskDefinitionError(name, 'options', 'expected an options object: lambdaTask({ name, args }, fn)');
  if (typeof rawName !== 'string' || !TASK_NAME_PATTERN.test(rawName)) {
    throw new TaskDefinitionError(name, 'name', `${JSON.stringify(rawName)} is not a valid task name: use letters, digits and _ . : - (starting with a letter or _), up to 200 characters, e.g. "emails.sendWelcome"`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TaskDefinitionError(name, key, `unknown option; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  if (isClassicZod3Schema(options.args)) {
    throw new TaskDefinitionError(name, 'args', "is a classic zod 3 schema: with zod 3.25+ import { z } from 'zod/v4' (or upgrade to zod 4); cdk-lambda-tasks reads zod 4 schemas");
  }
  if (!isObjectSchema(options.args)) {
    throw new TaskDefinitionError(name, 'args', 'must be an object schema such as z.object({ userId: z.number() }): task arguments are one object');
  }
  if (typeof fn !== 'function') throw new TaskDefinitionError(name, 'fn', 'the task function is missing: lambdaTask(options, async (args, ctx) => …)');
  if (options.queue !== undefined && (typeof options.queue !== 'string' || !QUEUE_NAME_PATTERN.test(options.queue))) {
    throw new TaskDefinitionError(name, 'queue', `${JSON.stringify(options.queue)} is not a queue name (letters, digits, _ and -, up to 40 characters)`);
  }
  for (const field of ['ignoreErrors', 'retryOn'] as const) {
    const classes = options[field];
    if (classes === undefined) continue;
    if (!Array.isArray(classes)) throw new TaskDefinitionError(name, field, 'must be an array of Error classes');
    classes.forEach((cls, i) => {
      if (!isErrorClass(cls)) throw new TaskDefinitionError(name, field, `item ${i} (${String((cls as { name?: unknown })?.name ?? cls)}) is not an Error class`);
    });
  }
  const related = (a: ErrorClass, b: ErrorClass) => a === b || a.prototype instanceof b || b.prototype instanceof a;
  for (const retry of options.retryOn ?? []) {
    const overlap = (options.ignoreErrors ?? []).find((ignored) => related(retry, ignored));
    if (overlap) throw new TaskDefinitionError(name, 'retryOn', `${retry.name} overlaps ignoreErrors (${overlap.name}): an error cannot both succeed and retry`);
  }
  const retries = options.retryOn !== undefined && options.retryOn.length > 0;
  if (options.maxRetries !== undefined && (!Number.isInteger(options.maxRetries) || options.maxRetries < 0 || options.maxRetries > 25)) {
    throw new TaskDefinitionError(name, 'maxRetries', `${String(options.maxRetries)} is not an integer from 0 to 25`);
  }
  if (options.retryDelay !== undefined && (!Number.isInteger(options.retryDelay) || options.retryDelay < 1 || options.retryDelay > MAX_TIMEOUT_SECONDS)) {
    throw new TaskDefinitionError(name, 'retryDelay', `${String(options.retryDelay)} is not an integer number of seconds from 1 to 900`);
  }
  if (options.maxRetries !== undefined && !retries) throw new TaskDefinitionError(name, 'maxRetries', 'only applies with retryOn: [ErrorClass, …]');
  if (options.retryDelay !== undefined && !retries && !options.singleton) throw new TaskDefinitionError(name, 'retryDelay', 'only applies with retryOn or singleton');
  if (options.singleton !== undefined && typeof options.singleton !== 'boolean' && typeof options.singleton !== 'function') {
    throw new TaskDefinitionError(name, 'singleton', 'must be true or a function of the arguments that returns the lock key');
  }
  if (options.retrySingleton !== undefined && !options.singleton) throw new TaskDefinitionError(name, 'retrySingleton', 'only applies with singleton');
  checkTimeoutValue(name, 'softTimeout', options.softTimeout);
  checkTimeoutValue(name, 'hardTimeout', options.hardTimeout);
  if (options.softTimeout !== undefined && options.hardTimeout !== undefined && options.softTimeout >= options.hardTimeout) {
    throw new TimeoutRangeError(name, 'softTimeout', `the soft timeout (${options.softTimeout} s) must be below the hard timeout (${options.hardTimeout} s)`);
  }
}
