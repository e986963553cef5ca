import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod/v4';
import { LambdaTasksError } from './errors';
import { lambdaTask } from './lambda-task';
import { deleteOldTerminal } from './records/delete-old-terminal';
import { findTask, registeredTaskOf, registerTask, type RegisteredTask } from './registry';
import type { LambdaTask } from './task-types';

/** Options of {@link cleanupTaskRecords}. */
export interface CleanupOptions {
  /** The EntityManager to delete with (in its current transaction, if any). */
  readonly em: EntityManager;
  /**
   * Delete terminal rows (SUCCESS, FAILED, RETRYING, CANCELLED) that ended longer ago than this.
   * @default 30
   */
  readonly olderThanDays?: number;
  /**
   * Rows deleted per call, so one run stays short.
   * @default 1000
   */
  readonly limit?: number;
}

/** What a cleanup did. */
export interface CleanupResult {
  /** Rows deleted. */
  readonly deleted: number;
}

/**
 * Deletes old terminal task records, oldest first, at most `limit` per call; QUEUED and RUNNING rows are
 * never touched. The maintenance event runs it every tick; it is also the task `lambdaTasks.cleanupTaskRecords` ({@link cleanupTaskRecordsTask}).
 *
 * @example
 * import { cleanupTaskRecords } from 'cdk-lambda-tasks/runtime';
 * const { deleted } = await cleanupTaskRecords({ em: orm.em.fork(), olderThanDays: 7, limit: 5000 });
 */
export async function cleanupTaskRecords(options: CleanupOptions): Promise<CleanupResult> {
  const olderThanDays = options.olderThanDays ?? 30;
  const limit = options.limit ?? 1000;
  if (!Number.isInteger(olderThanDays) || olderThanDays < 0) throw new LambdaTasksError(`cleanupTaskRecords: olderThanDays must be a whole number of days ≥ 0, got ${String(olderThanDays)}`);
  if (!Number.isInteger(limit) || limit < 1) throw new LambdaTasksError(`cleanupTaskRecords: limit must be a positive integer, got ${String(limit)}`);
  return { deleted: await deleteOldTerminal(options.em, olderThanDays, limit) };
}

const cleanupArgs = z.object({
  olderThanDays: z.number().int().min(0).default(30),
  limit: z.number().int().min(1).max(100_000).default(1000),
});

let cleanupTask: LambdaTask<typeof cleanupArgs, CleanupResult> | undefined;

/**
 * The built-in task form of {@link cleanupTaskRecords}, `lambdaTasks.cleanupTaskRecords`, defined on the first
 * call (no module registers tasks when imported). Every worker made by `createHandler` knows it.
 *
 * @example
 * import { cleanupTaskRecordsTask } from 'cdk-lambda-tasks/runtime';
 * cleanupTaskRecordsTask().executeOnCommit({ olderThanDays: 7, limit: 5000 }, { em });
 * await em.flush();
 */
export function cleanupTaskRecordsTask(): LambdaTask<typeof cleanupArgs, CleanupResult> {
  if (cleanupTask) {
    // Registered again after the registry was emptied (resetTaskRegistry in tests).
    const registered = registeredTaskOf(cleanupTask)!;
    if (findTask(registered.name) !== registered) registerTask(registered);
    return cleanupTask;
  }
  cleanupTask = lambdaTask({ name: 'lambdaTasks.cleanupTaskRecords', args: cleanupArgs }, async ({ olderThanDays, limit }, ctx) =>
    cleanupTaskRecords({ em: ctx.em, olderThanDays, limit }),
  );
  return cleanupTask;
}

/** Defines the built-in tasks (idempotent) and returns them: `createHandler` calls it so every worker runs them. */
export function registerBuiltInTasks(): RegisteredTask[] {
  return [registeredTaskOf(cleanupTaskRecordsTask())!];
}
