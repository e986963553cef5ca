import type { EntityManager } from '@mikro-orm/core';
import { cleanupTaskRecords, type CleanupOptions } from './cleanup';
import { reconcileDeadLetters } from './dead-letters';
import { toError } from './errors';
import { libraryLog } from './logger';
import { relayQueuedTasks } from './relay';
import { sweepLostTasks } from './sweep';

/** Options of {@link runMaintenance}. */
export interface MaintenanceOptions {
  /** The EntityManager the steps use. */
  readonly em: EntityManager;
  /**
   * The cleanup step: which terminal rows it deletes (`olderThanDays`, `limit`), or false to turn it off.
   * @default - delete terminal rows older than 30 days, at most 1000 per run
   */
  readonly cleanup?: Omit<CleanupOptions, 'em'> | false;
}

/** One timed step of a maintenance run. */
export interface MaintenanceStepResult {
  /** False when the step threw (the other steps still ran). */
  readonly ok: boolean;
  readonly durationMs: number;
  /** The step's result (`RelayResult`, `SweepResult`, `ReconcileResult`, `CleanupResult`). */
  readonly result?: unknown;
  /** The step's error message. */
  readonly error?: string;
}

/** What a maintenance run did: one entry per step (relay, sweep, reconcile, cleanup). */
export type MaintenanceResult = Record<string, MaintenanceStepResult>;

/**
 * Runs relay, sweep, DLQ reconciliation and a bounded cleanup, each timed and logged in one line; a failing step does
 * not skip the others. The worker runs it on the scheduled event `{ "lambdaTasks": "maintenance", "v": 1 }`.
 *
 * @example
 * import { runMaintenance } from 'cdk-lambda-tasks/runtime';
 * const result = await runMaintenance({ em: orm.em.fork(), cleanup: { olderThanDays: 7 } });
 * console.log(result.relay.ok, result.relay.result);
 */
export async function runMaintenance(options: MaintenanceOptions): Promise<MaintenanceResult> {
  const { em, cleanup = {} } = options;
  const steps: [string, () => Promise<unknown>][] = [
    ['relay', () => relayQueuedTasks({ em })],
    ['sweep', () => sweepLostTasks({ em })],
    ['reconcile', () => reconcileDeadLetters({ em })],
  ];
  if (cleanup !== false) steps.push(['cleanup', () => cleanupTaskRecords({ ...cleanup, em })]);
  const results: MaintenanceResult = {};
  for (const [name, step] of steps) {
    const started = Date.now();
    try {
      const result = await step();
      results[name] = { ok: true, durationMs: Date.now() - started, result };
      libraryLog.info(`maintenance ${name} done`, { durationMs: results[name].durationMs, result });
    } catch (error) {
      results[name] = { ok: false, durationMs: Date.now() - started, error: toError(error).message };
      libraryLog.error(`maintenance ${name} failed`, { durationMs: results[name].durationMs, error: toError(error).message });
    }
  }
  return results;
}
