/**
 * Errors thrown by cdk-lambda-tasks.
 *
 * Definition-time errors extend the built-in `TypeError` and `RangeError` (the Python
 * library django-lambda-tasks raised `TypeError` and `ValueError` at decoration time); everything else
 * extends {@link LambdaTasksError}.
 */
import { types } from 'node:util';

/** Thrown when `lambdaTask(...)` is given a bad definition: a bad or conflicting name, a non-object schema, a non-Error class in `ignoreErrors`. */
export class TaskDefinitionError extends TypeError {
  public override readonly name = 'TaskDefinitionError';
  /** The task name as given (may be empty when the name itself is the fault). */
  public readonly task: string;
  /** The option at fault, e.g. `args` or `ignoreErrors`. */
  public readonly field: string;
  public constructor(task: string, field: string, message: string) {
    super(`Task "${task}": ${field}: ${message}`);
    this.task = task;
    this.field = field;
  }
}

/** Thrown when a timeout is outside 1..900 seconds, or the soft timeout is not below the hard timeout. */
export class TimeoutRangeError extends RangeError {
  public override readonly name = 'TimeoutRangeError';
  public readonly task: string;
  public readonly field: string;
  public constructor(task: string, field: string, message: string) {
    super(`Task "${task}": ${field}: ${message}`);
    this.task = task;
    this.field = field;
  }
}

/** Base class of every runtime error of cdk-lambda-tasks except the two definition errors. */
export class LambdaTasksError extends Error {
  public override name = 'LambdaTasksError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown when the configuration (options or `LAMBDA_TASKS_*` environment variables) is invalid or incomplete. */
export class ConfigurationError extends LambdaTasksError {
  public override name = 'ConfigurationError';
  /** The option or environment variable at fault. */
  public readonly field: string;
  public constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/**
 * Thrown when task arguments or a serialized invocation fail validation, or when `getTask`, `waitForTask`,
 * `cancelTask` or `retryTask` is given an id that is not a UUID (then `task` is empty and `field` names the argument).
 */
export class TaskValidationError extends LambdaTasksError {
  public override name = 'TaskValidationError';
  /** The task name; empty when the value is not one task's (an id given to `getTask`). */
  public readonly task: string;
  public readonly field: string;
  public constructor(task: string, field: string, message: string) {
    super(task ? `Task "${task}": ${field}: ${message}` : `${field}: ${message}`);
    this.task = task;
    this.field = field;
  }
}

/**
 * Thrown by `executeOnCommitOnce` when its idempotency key already belongs to a task of another name:
 * keys are one namespace over all task records, and a key must not silently drop a different task.
 */
export class IdempotencyKeyConflictError extends LambdaTasksError {
  public override name = 'IdempotencyKeyConflictError';
  /** The key. */
  public readonly key: string;
  /** The task that holds the key. */
  public readonly existingTask: string;
  /** The task that asked for it. */
  public readonly task: string;
  public constructor(key: string, existingTask: string, task: string) {
    super(`Idempotency key "${key}" belongs to task "${existingTask}", not to "${task}": use keys that name the task (e.g. "${task}:…")`);
    this.key = key;
    this.existingTask = existingTask;
    this.task = task;
  }
}

/**
 * Thrown by `cancelTask` and `retryTask` when the task's state does not allow it: cancelling a RUNNING or
 * finished task (a running task is never interrupted from outside; its timeouts stop it), retrying one that
 * did not fail or was already retried, or an id with no row.
 */
export class TaskStateError extends LambdaTasksError {
  public override name = 'TaskStateError';
  /** What was asked. */
  public readonly operation: 'cancel' | 'retry';
  /** The task id given. */
  public readonly taskId: string;
  /** The status of the attempt that stopped it, or null when there is no such row (or it changed after the transaction's snapshot). */
  public readonly status: string | null;
  public constructor(operation: 'cancel' | 'retry', taskId: string, status: string | null, reason: string) {
    super(`${operation}Task(${taskId}): ${reason}`);
    this.operation = operation;
    this.taskId = taskId;
    this.status = status;
  }
}

/**
 * Thrown from the caller's flush or commit when `onDispatchError: 'throw'` is set and
 * sending to SQS failed. The transaction has committed (`committed` is always true): the
 * rows stay QUEUED with `dispatched_at` null, and `relayQueuedTasks()` re-sends them.
 */
export class TaskDispatchError extends LambdaTasksError {
  public override name = 'TaskDispatchError';
  public readonly taskIds: readonly string[];
  public readonly committed = true as const;
  public constructor(taskIds: readonly string[], cause: unknown) {
    super(
      `Sending ${taskIds.length} task message(s) to SQS failed after the transaction committed; ` +
        `the rows stay QUEUED for relayQueuedTasks(): ${taskIds.join(', ')}`,
      { cause },
    );
    this.taskIds = taskIds;
  }
}

/** Thrown when a task name is not in the registry (a serialized invocation or a message for a task this process does not define). */
export class TaskNotRegisteredError extends LambdaTasksError {
  public override name = 'TaskNotRegisteredError';
  public readonly task: string;
  public constructor(task: string) {
    super(`Task "${task}" is not registered: import the module that defines it (and pass it to createHandler's tasks)`);
    this.task = task;
  }
}

/** The reason `ctx.signal` aborts with when the soft timeout is reached. A task may catch it and clean up. */
export class SoftTimeLimitExceeded extends LambdaTasksError {
  public override name = 'SoftTimeLimitExceeded';
  public constructor(seconds: number) {
    super(`Soft time limit (${seconds} s) exceeded`);
  }
}

/** Recorded as the failure of a task that ran past its hard timeout. */
export class HardTimeLimitExceeded extends LambdaTasksError {
  public override name = 'HardTimeLimitExceeded';
  public constructor(seconds: number) {
    super(`Hard time limit (${seconds} s) exceeded`);
  }
}

/** Throw it from a task to fail the attempt without any retry. */
export class NonRetriableError extends LambdaTasksError {
  public override name = 'NonRetriableError';
}

/** Thrown at cold start when a secret reference is malformed or cannot be resolved. Never contains a secret value. */
export class SecretResolutionError extends LambdaTasksError {
  public override name = 'SecretResolutionError';
  /** The variable at fault, e.g. `LAMBDA_TASKS_SECRET_DB_PASSWORD`. */
  public readonly variable: string;
  public constructor(variable: string, message: string, options?: { cause?: unknown }) {
    super(`${variable}: ${message}`, options);
    this.variable = variable;
  }
}

/** The stack of an error (or its name and message when it has none), as stored in `traceback`. */
export function traceOf(error: Error): string {
  try {
    return String(error.stack ?? `${error.name}: ${error.message}`);
  } catch {
    return 'Error (its stack could not be read)';
  }
}

/** Carries a task's error out of eager mode when `eagerPropagate` is set (internal: the outbox rethrows the task's error). */
export class EagerTaskError extends Error {
  public override name = 'EagerTaskError';
  public constructor(public readonly taskError: Error) {
    super(taskError.message);
  }
}

/** The longest text of a thrown non-Error value kept in its Error's message (logs and tracebacks). */
const MAX_THROWN_TEXT = 500;

function describeThrown(thrown: unknown): string {
  for (const describe of [
    () => (typeof thrown === 'string' ? thrown : JSON.stringify(thrown)),
    () => String(thrown),
    () => Object.prototype.toString.call(thrown),
  ]) {
    try {
      const text = describe();
      if (typeof text === 'string') return text;
    } catch {
      // Try the next way: a value may refuse to be stringified (cycles, BigInt, a throwing toString).
    }
  }
  return typeof thrown;
}

/** Whether a value is an Error, also from another realm (vm) — never throwing, even for a hostile or revoked Proxy. */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error || types.isNativeError(value);
  } catch {
    return false;
  }
}

/** Turns anything thrown into an Error; a thrown non-Error keeps at most 500 characters of its text. */
export function toError(thrown: unknown): Error {
  if (isError(thrown)) return thrown;
  const text = describeThrown(thrown);
  const shown = text.length > MAX_THROWN_TEXT ? `${text.slice(0, MAX_THROWN_TEXT)}… (${text.length} characters)` : text;
  return new Error(`Non-Error thrown: ${shown}`);
}
