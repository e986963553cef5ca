import type { EntityManager } from '@mikro-orm/core';
import type * as zc from 'zod/v4/core';
import { getLambdaTasksConfig, getQueueSettings, MAX_TIMEOUT_SECONDS } from './config';
import { findDispatchSubscriber } from './dispatch';
import { assertLambdaTasksConfigured, resolveEntityManager } from './entity-manager';
import { TaskDefinitionError, TaskValidationError, TimeoutRangeError } from './errors';
import { toJsonValue } from './json-value';
import { taskLogger } from './logger';
import { encodeMessageBody, MAX_MESSAGE_BYTES, messageBytes, type SerializedInvocation } from './message';
import { QUEUE_NAME_PATTERN } from './names';
import { TaskRecord, TaskStatus } from './record';
import { insertQueuedOnce } from './records/insertQueuedOnce';
import { checkTimeoutValue, resolveTimeouts } from './timeouts';
import type { ErrorClass, ResolvedTimeouts, TaskContext } from './types';

/** An object schema (zod classic or zod/mini). */
export type TaskArgsSchema = zc.$ZodObject;

/** Options of {@link lambdaTask}. */
export interface LambdaTaskOptions<S extends TaskArgsSchema> {
  /** Stable, unique task name: the registry key and the name on the wire (letters, digits, `_ . : -`; up to 200 characters). */
  readonly name: string;
  /** The arguments: one `z.object({...})`. Unknown keys are rejected by the library. */
  readonly args: S;
  /**
   * Seconds until `ctx.signal` aborts with `SoftTimeLimitExceeded` (1..900, below hardTimeout).
   * @default - the configured default soft timeout (270), below the hard timeout
   */
  readonly softTimeout?: number;
  /**
   * Seconds until the task is stopped and recorded FAILED (1..900, at most the queue's maxHardTimeout).
   * @default - the configured default hard timeout (300), capped at the queue's maxHardTimeout
   */
  readonly hardTimeout?: number;
  /**
   * The queue (a key of `LAMBDA_TASKS_QUEUES`) the task's messages go to.
   * @default 'default'
   */
  readonly queue?: string;
  /**
   * Error classes (subclasses included) that count as SUCCESS: the task's writes still roll back,
   * the stack is kept in `traceback`, the result is null.
   * @default []
   */
  readonly ignoreErrors?: readonly ErrorClass[];
  /**
   * Error classes (subclasses included) after which the attempt is recorded RETRYING and a new attempt
   * (a new row: attempt + 1, same rootId) is enqueued with exponential backoff. `NonRetriableError` never retries.
   * @default [] (no retries)
   */
  readonly retryOn?: readonly ErrorClass[];
  /**
   * Retries after the first attempt (0..25); the attempt after the last one ends FAILED.
   * @default 3
   */
  readonly maxRetries?: number;
  /**
   * Seconds before the first retry (1..900); each later one waits twice as long, plus up to 20 % jitter, at most 900 s.
   * @default 10
   */
  readonly retryDelay?: number;
  /**
   * Run at most one at a time: a PostgreSQL advisory lock (`pg_try_advisory_xact_lock`) on the task name, or on
   * the name and the key this function returns for the arguments, held by the task's transaction.
   * @default false
   */
  readonly singleton?: boolean | ((args: zc.output<S>) => string);
  /**
   * When the lock is taken: true retries later (like `retryOn`, not counted in maxRetries); false records SUCCESS with a note.
   * @default true
   */
  readonly retrySingleton?: boolean;
}

/** Options of `executeOnCommit`. */
export interface ExecuteOnCommitOptions {
  /**
   * The EntityManager whose next flush writes the task record.
   * @default - the current `em.transactional()` EntityManager, else the RequestContext's
   */
  readonly em?: EntityManager;
  /**
   * Seconds before the worker may run it (0..900, SQS DelaySeconds).
   * @default 0
   */
  readonly delay?: number;
}

/** Options of `executeOnCommitOnce`. */
export interface ExecuteOnCommitOnceOptions extends ExecuteOnCommitOptions {
  /** The idempotency key: a second call with the same key returns the first call's id and sends nothing. */
  readonly key: string;
}

/** Options of a direct call. */
export interface DirectCallOptions {
  /**
   * The EntityManager given to the task as `ctx.em`.
   * @default - the current `em.transactional()` EntityManager, else the RequestContext's
   */
  readonly em?: EntityManager;
}

/** A task's options with its timeouts resolved against the current configuration. */
export interface ResolvedTaskOptions extends ResolvedTimeouts {
  readonly name: string;
  readonly queue: string;
  readonly ignoreErrors: readonly ErrorClass[];
}

/** The task function. */
export type TaskFunction<S extends TaskArgsSchema, R> = (args: zc.output<S>, ctx: TaskContext) => R | Promise<R>;

/**
 * A defined task: call it to run it now (in your transaction), or enqueue it with
 * `executeOnCommit`. Argument types flow from the schema, the result type from the function.
 */
export interface LambdaTask<S extends TaskArgsSchema, R> {
  /** Direct call: validates and runs the function now, in the caller's EntityManager and transaction, with no record. */
  (args: zc.input<S>, options?: DirectCallOptions): Promise<Awaited<R>>;
  /** The task name. */
  readonly name: string;
  /** The argument schema. */
  readonly schema: S;
  /** The options, with timeouts resolved against the current configuration (throws `ConfigurationError` / `TimeoutRangeError`). */
  readonly options: ResolvedTaskOptions;
  /**
   * Validates and adds a QUEUED `TaskRecord` to the em's unit of work; its message is sent to SQS only
   * after the flush that writes it has committed. Returns the task id at once.
   */
  executeOnCommit(args: zc.input<S>, options?: ExecuteOnCommitOptions): string;
  /**
   * The idempotent form: inserts the record now (in the em's current transaction) unless `key` is taken,
   * and returns the existing id when it is. A new record is sent after the root transaction commits,
   * or at once outside a transaction.
   */
  executeOnCommitOnce(args: zc.input<S>, options: ExecuteOnCommitOnceOptions): Promise<string>;
  /** Validates like executeOnCommit and returns the invocation as JSON (`TaskInvocation.parse` reads it back). */
  serialize(args: zc.input<S>, options?: { readonly delay?: number }): SerializedInvocation;
}

/** The registry's view of a task, as the executor needs it. */
export interface RegisteredTask {
  readonly name: string;
  readonly schema: TaskArgsSchema;
  readonly queue: string;
  readonly given: { readonly softTimeout?: number; readonly hardTimeout?: number };
  readonly ignoreErrors: readonly ErrorClass[];
  readonly retry: { readonly on: readonly ErrorClass[]; readonly maxRetries: number; readonly delay: number };
  /** The advisory-lock key for these (parsed) arguments, when the task is a singleton. */
  readonly singletonKey?: (args: unknown) => string;
  readonly retrySingleton: boolean;
  readonly fn: (args: unknown, ctx: TaskContext) => unknown;
  /** Identifies the definition, so re-defining the same task (a module reload) is allowed. */
  readonly fingerprint: string;
  /** The public callable. */
  callable: LambdaTask<TaskArgsSchema, unknown>;
  /** Validates arguments: the JSON input to store and the parsed output to run with. */
  validate(args: unknown, field?: string): { input: Record<string, unknown>; output: unknown };
  resolveTimeouts(): ResolvedTimeouts;
}

const registry = new Map<string, RegisteredTask>();
const TASK_MARK = Symbol.for('cdk-lambda-tasks.task');
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$/;
const KNOWN_OPTIONS = new Set(['name', 'args', 'softTimeout', 'hardTimeout', 'queue', 'ignoreErrors', 'retryOn', 'maxRetries', 'retryDelay', 'singleton', 'retrySingleton']);

/** The registered task of that name, or undefined. */
export function findTask(name: string): RegisteredTask | undefined {
  return registry.get(name);
}

/** Empties the registry (tests; `resetTaskRegistry` in `cdk-lambda-tasks/runtime/testing`). */
export function clearTaskRegistry(): void {
  registry.clear();
}

/** The registry entry behind a `LambdaTask` value, or undefined for anything else. */
export function registeredTaskOf(value: unknown): RegisteredTask | undefined {
  if (typeof value !== 'function') return undefined;
  return (value as unknown as { [TASK_MARK]?: RegisteredTask })[TASK_MARK];
}

function isObjectSchema(schema: unknown): schema is TaskArgsSchema {
  const def = (schema as { _zod?: { def?: { type?: unknown; shape?: unknown } } } | null)?._zod?.def;
  return def?.type === 'object' && typeof def.shape === 'object' && def.shape !== null;
}

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && (value === Error || (value as { prototype?: unknown }).prototype instanceof Error);
}

function issuesText(issues: readonly zc.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`).join('; ');
}

function makeValidator(name: string, schema: TaskArgsSchema): RegisteredTask['validate'] {
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
    const parsed = parseSchema.safeParse(args);
    if (!parsed.success) throw new TaskValidationError(name, field, issuesText(parsed.error?.issues ?? []));
    const input = toJsonValue(args as Record<string, unknown>, field, (reason) => new TaskValidationError(name, field, `${reason}; task arguments are stored and sent as JSON`));
    return { input, output: parsed.data };
  };
}

function fingerprintOf(options: LambdaTaskOptions<TaskArgsSchema>, fn: Function): string {
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

function checkDefinition(options: LambdaTaskOptions<TaskArgsSchema>, fn: unknown): void {
  const rawName: unknown = (options as { name?: unknown } | undefined)?.name;
  const name = typeof rawName === 'string' ? rawName : '';
  if (typeof options !== 'object' || options === null) throw new TaskDefinitionError(name, 'options', 'expected an options object: lambdaTask({ name, args }, fn)');
  if (typeof rawName !== 'string' || !NAME_PATTERN.test(rawName)) {
    throw new TaskDefinitionError(name, 'name', `${JSON.stringify(rawName)} is not a valid task name: use letters, digits and _ . : - (starting with a letter or _), up to 200 characters, e.g. "emails.sendWelcome"`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TaskDefinitionError(name, key, `unknown option; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
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

function checkDelay(name: string, delay: unknown): number {
  if (delay === undefined) return 0;
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > MAX_TIMEOUT_SECONDS) {
    throw new TaskValidationError(name, 'delay', `${String(delay)} is not an integer number of seconds from 0 to ${MAX_TIMEOUT_SECONDS} (SQS's largest delay)`);
  }
  return delay;
}

/** Everything executeOnCommit, executeOnCommitOnce and serialize check before any write. */
function prepareInvocation(task: RegisteredTask, args: unknown, delayOption: unknown) {
  const { input } = task.validate(args);
  const delay = checkDelay(task.name, delayOption);
  const timeouts = task.resolveTimeouts(); // also checks the queue exists
  const id = globalThis.crypto.randomUUID();
  const bytes = messageBytes(encodeMessageBody({ task_id: id, task_name: task.name, kwargs: input }));
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new TaskValidationError(task.name, 'args', `the message would be ${bytes} bytes; SQS takes at most ${MAX_MESSAGE_BYTES}: store large data elsewhere and pass its key`);
  }
  return { id, input, delay, timeouts, runAfter: new Date(Date.now() + delay * 1000) };
}

/**
 * Defines a task: a function with a zod object schema for its arguments.
 *
 * @example
 * import { z } from 'zod';
 * import { lambdaTask } from 'cdk-lambda-tasks/runtime';
 *
 * export const sendWelcomeEmail = lambdaTask(
 *   { name: 'emails.sendWelcomeEmail', args: z.object({ userId: z.number().int(), template: z.string() }) },
 *   async ({ userId, template }, ctx) => {
 *     ctx.logger.info('sending %s to user %d', template, userId);
 *     return 'sent';
 *   },
 * );
 *
 * const id = sendWelcomeEmail.executeOnCommit({ userId: 42, template: 'welcome' }, { em });
 * await em.flush(); // the message is sent after this commits
 */
export function lambdaTask<S extends TaskArgsSchema, R>(options: LambdaTaskOptions<S>, fn: TaskFunction<S, R>): LambdaTask<S, R> {
  checkDefinition(options, fn);
  const name = options.name;
  const queue = options.queue ?? 'default';
  const fingerprint = fingerprintOf(options, fn);
  const existing = registry.get(name);
  if (existing && existing.fingerprint !== fingerprint) {
    throw new TaskDefinitionError(name, 'name', 'a different task is already registered under this name; task names must be unique');
  }

  const registered: Omit<RegisteredTask, 'callable'> & Partial<Pick<RegisteredTask, 'callable'>> = {
    name,
    schema: options.args,
    queue,
    given: { softTimeout: options.softTimeout, hardTimeout: options.hardTimeout },
    ignoreErrors: [...(options.ignoreErrors ?? [])],
    retry: { on: [...(options.retryOn ?? [])], maxRetries: options.maxRetries ?? 3, delay: options.retryDelay ?? 10 },
    singletonKey: options.singleton
      ? (args: unknown) => `lambda-tasks:${name}:${typeof options.singleton === 'function' ? options.singleton(args as zc.output<S>) : ''}`
      : undefined,
    retrySingleton: options.retrySingleton ?? true,
    fn: fn as RegisteredTask['fn'],
    fingerprint,
    validate: makeValidator(name, options.args),
    resolveTimeouts() {
      const config = getLambdaTasksConfig();
      const settings = getQueueSettings(queue);
      return resolveTimeouts(name, this.given, {
        defaultSoftTimeout: config.defaultSoftTimeout,
        defaultHardTimeout: config.defaultHardTimeout,
        queueMaxHardTimeout: settings.maxHardTimeout ?? MAX_TIMEOUT_SECONDS,
        queue,
      });
    },
  };

  const direct = async (args: zc.input<S>, callOptions?: DirectCallOptions): Promise<Awaited<R>> => {
    const { output } = registered.validate(args);
    const em = resolveEntityManager(callOptions?.em, `${name}()`);
    const ctx: TaskContext = { em, taskId: null, rootId: null, taskName: name, attempt: 1, signal: new AbortController().signal, logger: taskLogger };
    return (await fn(output as zc.output<S>, ctx)) as Awaited<R>;
  };

  const task = Object.assign(direct, {
    schema: options.args,
    executeOnCommit(args: zc.input<S>, opts: ExecuteOnCommitOptions = {}): string {
      const prepared = prepareInvocation(registered as RegisteredTask, args, opts.delay);
      const em = resolveEntityManager(opts.em, `${name}.executeOnCommit()`);
      assertLambdaTasksConfigured(em, `${name}.executeOnCommit()`);
      const record = Object.assign(new TaskRecord(), {
        id: prepared.id,
        taskName: name,
        kwargs: prepared.input,
        queue,
        status: TaskStatus.QUEUED,
        attempt: 1,
        rootId: prepared.id,
        idempotencyKey: null,
        hardTimeout: prepared.timeouts.hardTimeout,
        enqueuedAt: new Date(),
        runAfter: prepared.runAfter,
        dispatchedAt: null,
      });
      em.persist(record);
      return prepared.id;
    },
    async executeOnCommitOnce(args: zc.input<S>, opts: ExecuteOnCommitOnceOptions): Promise<string> {
      if (typeof opts?.key !== 'string' || opts.key.length === 0 || opts.key.length > 255) {
        throw new TaskValidationError(name, 'key', 'executeOnCommitOnce needs { key }: a non-empty string of at most 255 characters');
      }
      const prepared = prepareInvocation(registered as RegisteredTask, args, opts.delay);
      const em = resolveEntityManager(opts.em, `${name}.executeOnCommitOnce()`);
      assertLambdaTasksConfigured(em, `${name}.executeOnCommitOnce()`);
      const row = {
        id: prepared.id,
        taskName: name,
        kwargs: prepared.input,
        queue,
        hardTimeout: prepared.timeouts.hardTimeout,
        runAfter: prepared.runAfter,
        idempotencyKey: opts.key,
      };
      const { id, created } = await insertQueuedOnce(em, row);
      if (created) await findDispatchSubscriber(em).registerInserted(em, [row]);
      return id;
    },
    serialize(args: zc.input<S>, opts: { readonly delay?: number } = {}): SerializedInvocation {
      const prepared = prepareInvocation(registered as RegisteredTask, args, opts.delay);
      return { message: { task_name: name, kwargs: prepared.input }, delay: prepared.delay, queue };
    },
  });
  Object.defineProperty(task, 'name', { value: name });
  Object.defineProperty(task, 'options', {
    get: (): ResolvedTaskOptions => ({ name, queue, ignoreErrors: registered.ignoreErrors, ...registered.resolveTimeouts() }),
  });
  Object.defineProperty(task, TASK_MARK, { value: registered });
  registered.callable = task as unknown as LambdaTask<TaskArgsSchema, unknown>;
  registry.set(name, registered as RegisteredTask);
  return task as unknown as LambdaTask<S, R>;
}
