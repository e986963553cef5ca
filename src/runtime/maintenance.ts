import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { getLambdaTasksConfig, getSqsClient } from './config';
import { LambdaTasksError, toError } from './errors';
import { libraryLog } from './logger';
import { decodeMessageBody } from './message';
import { TaskStatus, TERMINAL_STATUSES } from './record';
import { deleteOldTerminal } from './records/deleteOldTerminal';
import { findRows } from './records/findRows';
import { markDispatchedInTransaction } from './records/markDispatchedInTransaction';
import { selectUndispatchedForUpdate } from './records/selectUndispatchedForUpdate';
import { sweepRunning } from './records/sweepRunning';
import { delaySecondsUntil, sendTaskMessages } from './send';
import { findTask, lambdaTask } from './task';

/** Options of {@link relayQueuedTasks}. */
export interface RelayOptions {
  readonly em: EntityManager;
  /**
   * Only rows enqueued longer ago than this: younger ones may still be on their way from the commit hook.
   * @default 60
   */
  readonly olderThanSeconds?: number;
  /**
   * Rows per run.
   * @default 500
   */
  readonly limit?: number;
}

/** What a relay did. */
export interface RelayResult {
  readonly sent: number;
  readonly failed: number;
}

/**
 * Re-sends QUEUED rows that were committed but never sent (the process died between commit and
 * send, or the send failed), with `DelaySeconds` = what is left of their delay, then sets
 * `dispatched_at`. Rows are locked `FOR UPDATE SKIP LOCKED`, so two relays never send the same row.
 *
 * @example
 * import { relayQueuedTasks } from 'cdk-lambda-tasks/runtime';
 * const { sent } = await relayQueuedTasks({ em: orm.em.fork(), olderThanSeconds: 60 });
 */
export async function relayQueuedTasks(options: RelayOptions): Promise<RelayResult> {
  const olderThanSeconds = options.olderThanSeconds ?? 60;
  const limit = options.limit ?? 500;
  return options.em.fork().transactional(async (em) => {
    const rows = await selectUndispatchedForUpdate(em, olderThanSeconds, limit);
    if (rows.length === 0) return { sent: 0, failed: 0 };
    const outcome = await sendTaskMessages(
      rows.map((r) => ({ id: r.id, taskName: r.task_name, kwargs: r.kwargs, queue: r.queue, runAfter: new Date(r.run_after) })),
    );
    await markDispatchedInTransaction(em, outcome.sent);
    if (outcome.failed.length > 0) {
      libraryLog.error('relay: some sends failed; the rows stay for the next run', { taskIds: outcome.failed.map((f) => f.id), reasons: [...new Set(outcome.failed.map((f) => f.reason))] });
    }
    return { sent: outcome.sent.length, failed: outcome.failed.length };
  });
}

/** Options of {@link sweepLostTasks}. */
export interface SweepOptions {
  readonly em: EntityManager;
  /**
   * Seconds past start + hard timeout before a RUNNING row counts as lost (the Lambda timeout is hard timeout + 30 s).
   * @default 60
   */
  readonly marginSeconds?: number;
}

/**
 * Marks FAILED, with a note, RUNNING rows whose worker must be gone: `start_time + hard_timeout +
 * margin < now()` (code that blocked the event loop until the Lambda timeout, a killed container).
 */
export async function sweepLostTasks(options: SweepOptions): Promise<{ swept: number }> {
  const marginSeconds = options.marginSeconds ?? 60;
  const rows = await sweepRunning(options.em, marginSeconds, `swept: still RUNNING ${marginSeconds} s after its hard timeout (worker lost)`);
  if (rows.length > 0) libraryLog.warn('sweep: lost tasks marked FAILED', { taskIds: rows.map((r) => r.id), taskNames: [...new Set(rows.map((r) => r.task_name))] });
  return { swept: rows.length };
}

/** Options of {@link reconcileDeadLetters}. */
export interface ReconcileOptions {
  readonly em: EntityManager;
  /**
   * Queue names whose DLQs to read.
   * @default - every configured queue with a dlqUrl
   */
  readonly queues?: readonly string[];
  /**
   * Messages read per DLQ per run.
   * @default 100
   */
  readonly maxMessages?: number;
}

/** What reconciliation did, and why it kept what it kept. */
export interface ReconcileResult {
  readonly resent: number;
  readonly deleted: number;
  readonly kept: { readonly malformed: number; readonly unknownTask: number; readonly noRow: number; readonly running: number };
}

async function receiveDeadLetters(url: string, max: number): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < max) {
    const out = await getSqsClient().send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: Math.min(10, max - messages.length), VisibilityTimeout: 300, MessageAttributeNames: ['All'] }),
    );
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
  }
  return messages;
}

async function deleteMessages(url: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const entries = chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! }));
    await getSqsClient().send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }));
  }
}

/**
 * Reads the dead-letter queues and settles what it can: a message whose row is still QUEUED (it
 * reached the DLQ without being run: a throttled or failed invocation) is re-sent to its queue and
 * deleted; one whose row is terminal is deleted. Malformed messages, unknown tasks, messages without
 * a row, and rows still RUNNING are kept for a person (see the README's runbook) and counted in one log line.
 */
export async function reconcileDeadLetters(options: ReconcileOptions): Promise<ReconcileResult> {
  const { queues } = getLambdaTasksConfig();
  const names = options.queues ?? Object.keys(queues).filter((name) => queues[name].dlqUrl);
  const result = { resent: 0, deleted: 0, kept: { malformed: 0, unknownTask: 0, noRow: 0, running: 0 } };
  for (const name of names) {
    const dlqUrl = queues[name]?.dlqUrl;
    if (!dlqUrl) continue;
    const messages = await receiveDeadLetters(dlqUrl, options.maxMessages ?? 100);
    const decoded = messages.map((message) => ({ message, decoded: decodeMessageBody(message.Body ?? '') }));
    const ids = decoded.flatMap(({ message, decoded: d }) => (d.ok ? [d.body.task_id ?? message.MessageId!] : []));
    const rows = await findRows(options.em, ids);
    const settled: Message[] = [];
    for (const { message, decoded: d } of decoded) {
      if (!d.ok) {
        result.kept.malformed++;
        continue;
      }
      if (!findTask(d.body.task_name)) {
        result.kept.unknownTask++;
        continue;
      }
      const row = rows.get(d.body.task_id ?? message.MessageId!);
      if (!row) {
        result.kept.noRow++;
      } else if (row.status === TaskStatus.QUEUED) {
        const url = queues[row.queue]?.url;
        if (!url) {
          result.kept.unknownTask++;
          continue;
        }
        const delay = delaySecondsUntil(new Date(row.run_after));
        await getSqsClient().send(new SendMessageCommand({ QueueUrl: url, MessageBody: message.Body, DelaySeconds: delay }));
        result.resent++;
        settled.push(message);
      } else if (TERMINAL_STATUSES.includes(row.status)) {
        result.deleted++;
        settled.push(message);
      } else {
        result.kept.running++;
      }
    }
    await deleteMessages(dlqUrl, settled);
  }
  const kept = Object.values(result.kept).reduce((a, b) => a + b, 0);
  if (result.resent + result.deleted + kept > 0) {
    (kept > 0 ? libraryLog.warn : libraryLog.info)('reconcile: dead letters settled', { resent: result.resent, deleted: result.deleted, kept: result.kept });
  }
  return result;
}

/** Options of {@link cleanupTaskRecords}. */
export interface CleanupOptions {
  readonly em: EntityManager;
  /**
   * Delete terminal rows (SUCCESS, FAILED, RETRYING) that ended longer ago than this.
   * @default 30
   */
  readonly olderThanDays?: number;
  /**
   * Rows deleted per call, so one run stays short.
   * @default 1000
   */
  readonly limit?: number;
}

/**
 * Deletes old terminal task records, oldest first, at most `limit` per call; QUEUED and RUNNING rows are
 * never touched. The maintenance event runs it every tick; it is also the task `lambdaTasks.cleanupTaskRecords`.
 *
 * @example
 * import { cleanupTaskRecords } from 'cdk-lambda-tasks/runtime';
 * const { deleted } = await cleanupTaskRecords({ em: orm.em.fork(), olderThanDays: 7, limit: 5000 });
 */
export async function cleanupTaskRecords(options: CleanupOptions): Promise<{ deleted: number }> {
  const olderThanDays = options.olderThanDays ?? 30;
  const limit = options.limit ?? 1000;
  if (!Number.isInteger(olderThanDays) || olderThanDays < 0) throw new LambdaTasksError(`cleanupTaskRecords: olderThanDays must be a whole number of days ≥ 0, got ${String(olderThanDays)}`);
  if (!Number.isInteger(limit) || limit < 1) throw new LambdaTasksError(`cleanupTaskRecords: limit must be a positive integer, got ${String(limit)}`);
  return { deleted: await deleteOldTerminal(options.em, olderThanDays, limit) };
}

/** The built-in task form of {@link cleanupTaskRecords} (`lambdaTasks.cleanupTaskRecords`). */
export const cleanupTaskRecordsTask = lambdaTask(
  { name: 'lambdaTasks.cleanupTaskRecords', args: z.object({ olderThanDays: z.number().int().min(0).default(30), limit: z.number().int().min(1).max(100_000).default(1000) }) },
  async ({ olderThanDays, limit }, ctx) => cleanupTaskRecords({ em: ctx.em, olderThanDays, limit }),
);

/** Options of {@link runMaintenance}. */
export interface MaintenanceOptions {
  /**
   * The cleanup step deletes terminal rows older than this many days; 0 turns the step off.
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * Rows the cleanup step deletes per run.
   * @default 1000
   */
  readonly cleanupLimit?: number;
}

/** One timed step of a maintenance run. */
export interface MaintenanceStepResult {
  readonly ok: boolean;
  readonly durationMs: number;
  readonly result?: unknown;
  readonly error?: string;
}

/**
 * Runs relay, sweep, DLQ reconciliation and a bounded cleanup, each timed and logged in one line; a failing step does
 * not skip the others. The worker runs it on the scheduled event `{ "lambdaTasks": "maintenance", "v": 1 }`.
 */
export async function runMaintenance(em: EntityManager, options: MaintenanceOptions = {}): Promise<Record<string, MaintenanceStepResult>> {
  const retentionDays = options.retentionDays ?? 30;
  const steps: [string, () => Promise<unknown>][] = [
    ['relay', () => relayQueuedTasks({ em })],
    ['sweep', () => sweepLostTasks({ em })],
    ['reconcile', () => reconcileDeadLetters({ em })],
  ];
  if (retentionDays > 0) steps.push(['cleanup', () => cleanupTaskRecords({ em, olderThanDays: retentionDays, limit: options.cleanupLimit ?? 1000 })]);
  const results: Record<string, MaintenanceStepResult> = {};
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
