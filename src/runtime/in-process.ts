/**
 * Runs QUEUED tasks in this process, through the same claim and run as a worker: eager mode (after the
 * commit, before the flush/commit promise resolves) and `drainTasks` in tests. No timeouts, no message id.
 */
import type { EntityManager } from '@mikro-orm/core';
import { getLambdaTasksConfig } from './config';
import { EagerTaskError, TaskNotRegisteredError } from './errors';
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
  const row = await claim(em, id, taskName, null);
  if (!row) return null;
  return runClaimedTask(em, row, task, { inProcess: true });
}

/**
 * Eager mode: committed invocations run here, one after the other, before the flush/commit resolves.
 * `withLambdaTasks()` hands it to the outbox's subscriber.
 */
export async function runInProcess(em: EntityManager, tasks: readonly { id: string; taskName: string }[]): Promise<void> {
  const { eagerPropagate } = getLambdaTasksConfig();
  for (const { id, taskName } of tasks) {
    const outcome = await runQueuedTaskNow(em, id, taskName);
    if (eagerPropagate && outcome?.status === TaskStatus.FAILED && outcome.error) throw new EagerTaskError(outcome.error);
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

/**
 * Runs every QUEUED task now, oldest first, including tasks those tasks enqueue; returns the outcomes.
 * A singleton whose lock is held elsewhere goes back to QUEUED and is not tried again in this call, so a
 * drain ends even while another connection holds the lock.
 */
export async function drainQueuedTasks(em: EntityManager, options: DrainOptions = {}): Promise<TaskOutcome[]> {
  const outcomes: TaskOutcome[] = [];
  const busy = new Set<string>();
  for (;;) {
    const queued = (await selectQueuedIdsInOrder(em, options.taskNames)).filter((row) => !busy.has(row.id));
    let ran = 0;
    for (const { id, task_name: taskName } of queued) {
      const outcome = await runQueuedTaskNow(em, id, taskName);
      if (!outcome) continue;
      outcomes.push(outcome);
      if (outcome.status === TaskStatus.QUEUED) busy.add(id);
      else ran++;
    }
    if (ran === 0) return outcomes;
  }
}
