/**
 * Helpers for your own test suites (`cdk-lambda-tasks/runtime/testing`).
 */
import type { EntityManager } from '@mikro-orm/core';
import { resetLambdaTasksConfig } from './config';
import { drainQueuedTasks, type DrainOptions } from './in-process';
import { clearTaskRegistry } from './registry';
import type { TaskOutcome } from './run-task';

export type { DrainOptions, TaskOutcome };

/**
 * Runs every QUEUED task now, in this process, through the worker's executor (like
 * graphile-worker's `runTaskListOnce`): oldest first, including tasks they enqueue, with
 * the same records and outcomes as a worker. Returns one outcome per task run.
 *
 * @example
 * import { drainTasks } from 'cdk-lambda-tasks/runtime/testing';
 * const outcomes = await drainTasks(orm.em.fork());
 * expect(outcomes.map((o) => o.status)).toEqual(['SUCCESS']);
 */
export async function drainTasks(em: EntityManager, options: DrainOptions = {}): Promise<TaskOutcome[]> {
  return drainQueuedTasks(em, options);
}

/**
 * Empties the task registry, so a test can define tasks again from scratch.
 *
 * @example
 * import { resetTaskRegistry } from 'cdk-lambda-tasks/runtime/testing';
 * afterEach(() => resetTaskRegistry());
 */
export function resetTaskRegistry(): void {
  clearTaskRegistry();
}

/** Forgets `configureLambdaTasks()` options so the next use reads the environment again. */
export function resetLambdaTasksConfiguration(): void {
  resetLambdaTasksConfig();
}
