/**
 * Runs QUEUED tasks in this process, through the same claim and run as a worker: eager mode (after the
 * commit, before the flush/commit promise resolves) and `drainTasks` in tests. No timeouts, no message id.
 */
import type { EntityManager } from '@mikro-orm/core';
import { getLambdaTasksConfig } from './config';
import { TaskNotRegisteredError } from './errors';
import { TaskStatus } from './record';
import { claim } from './records/claim';
import { selectQueuedIdsInOrder } from './records/select-queued-ids-in-order';
import { findTask } from './registry';
import { runClaimedTask, type TaskOutcome } from './run-task';

/**
 * Claims a QUEUED row by id and runs it in this process (eager mode, drainTasks): no timeouts,
 * no message id. Returns null when the row is not QUEUED (already run, or gone).
 */
export async function runQueuedTaskNow(em: EntityManager, id: string, taskName: string): Promise<TaskOutcome | null> {
  const task = findTask(taskName);
  if (!task) throw new TaskNotRegisteredError(taskName);
  const row = await claim(em, id, null);
  if (!row) return null;
  return runClaimedTask(em, row, task);
}

/**
 * Eager mode: committed invocations run here, one after the other, before the flush/commit resolves.
 * `withLambdaTasks()` hands it to the outbox's subscriber.
 */
export async function runInProcess(em: EntityManager, tasks: readonly { id: string; taskName: string }[]): Promise<void> {
  const { eagerPropagate } = getLambdaTasksConfig();
  for (const { id, taskName } of tasks) {
    const outcome = await runQueuedTaskNow(em, id, taskName);
    if (eagerPropagate && outcome?.status === TaskStatus.FAILED && outcome.error) throw outcome.error;
  }
}

/** Options of `drainTasks` (`cdk-lambda-tasks/runtime/testing`). */
export interface DrainOptions {
  /**
   * Only tasks of these names.
   * @default - every task
   */
  readonly taskNames?: readonly string[];
}

/** Runs every QUEUED task now, oldest first, including tasks those tasks enqueue; returns the outcomes. */
export async function drainQueuedTasks(em: EntityManager, options: DrainOptions = {}): Promise<TaskOutcome[]> {
  const outcomes: TaskOutcome[] = [];
  for (;;) {
    const queued = await selectQueuedIdsInOrder(em, options.taskNames);
    if (queued.length === 0) return outcomes;
    let ran = 0;
    for (const { id, task_name: taskName } of queued) {
      const outcome = await runQueuedTaskNow(em, id, taskName);
      if (outcome) {
        outcomes.push(outcome);
        ran++;
      }
    }
    if (ran === 0) return outcomes;
  }
}
