import type { EntityManager } from '@mikro-orm/core';
import { libraryLog } from './logger';
import { recordTaskOutcome } from './metrics';
import { TaskStatus } from './record';
import { sweepRunning } from './records/sweep-running';

/** Options of {@link sweepLostTasks}. */
export interface SweepOptions {
  /** The EntityManager to update the rows with. */
  readonly em: EntityManager;
  /**
   * Seconds past start + hard timeout before a RUNNING row counts as lost (the Lambda timeout is hard timeout + 30 s).
   * @default 60
   */
  readonly marginSeconds?: number;
}

/** What a sweep did. */
export interface SweepResult {
  /** RUNNING rows marked FAILED. */
  readonly swept: number;
}

/**
 * Marks FAILED, with a note, RUNNING rows whose worker must be gone: `start_time + hard_timeout +
 * margin < now()` (code that blocked the event loop until the Lambda timeout, a killed container).
 *
 * @example
 * import { sweepLostTasks } from 'cdk-lambda-tasks/runtime';
 * const { swept } = await sweepLostTasks({ em: orm.em.fork() });
 */
export async function sweepLostTasks(options: SweepOptions): Promise<SweepResult> {
  const marginSeconds = options.marginSeconds ?? 60;
  const rows = await sweepRunning(options.em, marginSeconds, `swept: still RUNNING ${marginSeconds} s after its hard timeout (worker lost)`);
  // Every ended attempt writes one metric line: these ended here.
  for (const row of rows) recordTaskOutcome({ queue: row.queue, taskName: row.task_name, status: TaskStatus.FAILED, durationMs: Math.round(Number(row.running_ms)), taskId: row.id });
  if (rows.length > 0) libraryLog.warn('sweep: lost tasks marked FAILED', { taskIds: rows.map((r) => r.id), taskNames: [...new Set(rows.map((r) => r.task_name))] });
  return { swept: rows.length };
}
