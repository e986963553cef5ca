/**
 * The task registry: task name → definition. `lambdaTask()` adds to it; the worker, `TaskInvocation.parse`
 * and the in-process runner read it.
 */
import { LambdaTasksError, TaskDefinitionError } from './errors';
import type { LambdaTask, TaskArgsSchema } from './task-types';
import type { ErrorClass, ResolvedTimeouts, TaskContext } from './types';

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
/** Marks a task's callable across copies of the library (`Symbol.for`), so another copy's task is recognised as one. */
const TASK_MARK = Symbol.for('cdk-lambda-tasks.task');
/** The tasks this copy of the library made (its CommonJS and ES module builds are two copies, each with its own). */
const ownTasks = new WeakSet<RegisteredTask>();

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

/**
 * Registers a task under its name and marks its callable; the same definition again (a module reload) is
 * allowed, a different one under a taken name is a `TaskDefinitionError`.
 */
export function registerTask(task: RegisteredTask): void {
  const existing = registry.get(task.name);
  if (existing && existing.fingerprint !== task.fingerprint) {
    throw new TaskDefinitionError(task.name, 'name', 'a different task is already registered under this name; task names must be unique');
  }
  Object.defineProperty(task.callable, TASK_MARK, { value: task });
  ownTasks.add(task);
  registry.set(task.name, task);
}

/** Whether a task was made by this copy of the library (its registry, entity and error classes are the ones used here). */
export function isOwnTask(task: RegisteredTask): boolean {
  return ownTasks.has(task);
}

/** The error for a task of another copy of the library given to this one (`caller` is e.g. `createHandler`). */
export function foreignTaskError(caller: string, taskName: string): LambdaTasksError {
  return new LambdaTasksError(
    `${caller}: task "${taskName}" was made by another copy of cdk-lambda-tasks than this ${caller}: typically its CommonJS build `
      + '(loaded with require) next to its ES module build (loaded with import), or two installed versions. Their registries, '
      + 'configuration, TaskRecord entity and error classes are separate, so this worker could not run it. Use one copy: import '
      + 'lambdaTask and createHandler the same way (both import or both require) from one installed cdk-lambda-tasks (`npm ls cdk-lambda-tasks` lists copies)',
  );
}

