import type { EntityManager } from '@mikro-orm/core';
import { LambdaTasksError } from './errors';
import { TaskRecord, TERMINAL_STATUSES } from './record';
import { checkTaskId } from './task-id';

/**
 * Reads a task record through a fresh fork (your identity map still holds the QUEUED copy).
 * Returns null when there is no such row (not yet flushed, rolled back, or cleaned up). Throws
 * `TaskValidationError` when `id` is not a UUID (any case), before any SQL runs.
 *
 * @example
 * import { getTask } from 'cdk-lambda-tasks/runtime';
 * const record = await getTask(em, id);
 * console.log(record?.status, record?.result);
 */
export async function getTask(em: EntityManager, id: string): Promise<TaskRecord | null> {
  return em.fork({ clear: true }).findOne(TaskRecord, { id: checkTaskId('getTask()', 'id', id) });
}

/** Options of {@link waitForTask}. */
export interface WaitForTaskOptions {
  /**
   * Give up after this many milliseconds.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Milliseconds between reads.
   * @default 100
   */
  readonly intervalMs?: number;
}

/**
 * Polls until the task record reaches a terminal status (SUCCESS, FAILED, RETRYING) and returns it;
 * throws `LambdaTasksError` naming the last status on timeout, and `TaskValidationError` at once when `id`
 * is not a UUID.
 *
 * @example
 * import { waitForTask } from 'cdk-lambda-tasks/runtime';
 * const done = await waitForTask(em, id, { timeoutMs: 10_000 });
 */
export async function waitForTask(em: EntityManager, id: string, options: WaitForTaskOptions = {}): Promise<TaskRecord> {
  checkTaskId('waitForTask()', 'id', id);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: TaskRecord | null = null;
  for (;;) {
    last = await getTask(em, id);
    if (last && TERMINAL_STATUSES.includes(last.status)) return last;
    if (Date.now() >= deadline) {
      throw new LambdaTasksError(`waitForTask: task ${id} is ${last ? last.status : 'not found'} after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
