import type { EntityManager, MikroORM, Options } from '@mikro-orm/core';
import { registerBuiltInTasks } from './cleanup';
import { getLambdaTasksConfig } from './config';
import { isMaintenanceEvent, isScheduleEvent } from './contract';
import { decideDeadline } from './deadline';
import { claimRequestOf, prepareDelivery, runDelivery, type BeforeRun, type DeliveryResult, type PreparedDelivery } from './delivery';
import { LambdaTasksError, toError } from './errors';
import { isSqsEvent, unrecognisedEventError } from './event-kind';
import { libraryLog } from './logger';
import { runMaintenance, type MaintenanceOptions, type MaintenanceResult } from './maintenance';
import { bodyNamingRow, type MessageBody } from './message';
import { recordResend } from './metrics';
import { initOrm } from './orm';
import { claimMany, type ClaimRequest, type ClaimToken } from './records/claim';
import type { TaskRow } from './records/row';
import { foreignTaskError, isOwnTask, registeredTaskOf, type RegisteredTask } from './registry';
import { checkSchedules, runScheduleEvent, type ScheduleResponse } from './schedules';
import { resolveSecretsIntoEnv } from './secrets';
import { queueUrlOfArn, releaseMessages, resendMessage } from './sqs';
import type { LambdaContextLike, SqsBatchResponse, SqsEventLike, SqsRecordLike } from './types';
import { withLambdaTasks } from './with-lambda-tasks';

/** The result of the scheduled maintenance event. */
export interface MaintenanceResponse {
  /** Each step (relay, sweep, reconcile, cleanup) with its duration, result or error. */
  readonly maintenance: MaintenanceResult;
}

/** What the handler returns: the partial batch response, the maintenance summary, or the task a schedule tick enqueued. */
export type HandlerResponse = SqsBatchResponse | MaintenanceResponse | ScheduleResponse;

/** The worker handler: `async (event, context)`, no callback (Node.js 24 on Lambda has none). */
export interface TaskHandler {
  (event: SqsEventLike | Record<string, unknown>, context: LambdaContextLike): Promise<HandlerResponse>;
  /** Closes the ORM the handler created from `ormConfig` (a local worker's shutdown, tests); a given `orm` is left open. */
  close(): Promise<void>;
}

/** Options of {@link createHandler}. */
export interface CreateHandlerOptions {
  /**
   * The tasks this worker runs: an array of tasks or a module namespace (`import * as tasks from './tasks'`).
   * Given explicitly so bundlers cannot drop the modules that define them.
   */
  readonly tasks: readonly unknown[] | Readonly<Record<string, unknown>>;
  /**
   * Builds the MikroORM config at cold start, after secrets are in `process.env`. `withLambdaTasks` is applied
   * and the pool is sized to `concurrency + 1`. Give this or `orm`. Takes what `defineConfig()` of
   * `@mikro-orm/postgresql` returns in MikroORM 6 and 7.
   */
  readonly ormConfig?: () => Partial<Options> | Promise<Partial<Options>>;
  /** An initialised ORM (tests, or an app that manages its own); must be configured with `withLambdaTasks`. */
  readonly orm?: MikroORM;
  /**
   * Records run at once per invocation.
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * What the scheduled maintenance event does besides relay, sweep and reconciliation (the cleanup's retention and limit).
   * @default - delete terminal rows older than 30 days, at most 1000 per run
   */
  readonly maintenance?: Omit<MaintenanceOptions, 'em'>;
}

function collectTasks(tasks: CreateHandlerOptions['tasks']): RegisteredTask[] {
  const values = Array.isArray(tasks) ? tasks : Object.values(tasks ?? {});
  const found = values.map(registeredTaskOf).filter((t): t is RegisteredTask => t !== undefined);
  const foreign = found.find((t) => !isOwnTask(t)); // made by the other build (CommonJS ↔ ES module): refused, with the fix
  if (foreign) throw foreignTaskError('createHandler', foreign.name);
  if (found.length === 0) {
    throw new LambdaTasksError('createHandler: no tasks given: pass { tasks: [myTask] } or { tasks: await import("./tasks") } (values made by lambdaTask)');
  }
  return found;
}

/**
 * Creates the worker's Lambda handler: for an SQS event it claims and runs each record's task
 * and returns `{ batchItemFailures }` listing exactly the messages that could be neither run nor
 * handed on (malformed, unknown task, database unreachable before the claim); a task's own failure
 * is recorded FAILED and never goes there. The scheduled maintenance event runs `runMaintenance`; a schedule
 * tick enqueues its task; any other event throws `ConfigurationError` (the invocation fails). At cold start the
 * configuration is validated: a `ConfigurationError` there fails the initialisation, so no message is handled
 * with it (the batch goes back to SQS and the rows stay QUEUED).
 *
 * @example
 * // src/worker.ts
 * import { defineConfig } from '@mikro-orm/postgresql';
 * import { createHandler } from 'cdk-lambda-tasks/runtime';
 * import * as tasks from './tasks';
 *
 * export const handler = createHandler({
 *   tasks,
 *   ormConfig: () => defineConfig({ clientUrl: process.env.DATABASE_URL, entities: [User] }),
 * });
 */
export function createHandler(options: CreateHandlerOptions): TaskHandler {
  const tasks = [...collectTasks(options.tasks), ...registerBuiltInTasks()];
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new LambdaTasksError(`createHandler: concurrency must be a positive integer, got ${String(concurrency)}`);
  if (!options.orm === !options.ormConfig) throw new LambdaTasksError('createHandler: give exactly one of ormConfig or orm');

  let ormPromise: Promise<MikroORM> | undefined;
  const init = (): Promise<MikroORM> => {
    ormPromise ??= (async (): Promise<MikroORM> => {
      if (options.orm) {
        getLambdaTasksConfig(); // a configuration error fails the initialisation: no message is handled with it
        return options.orm;
      }
      await resolveSecretsIntoEnv();
      getLambdaTasksConfig(); // after the secrets, which may fill LAMBDA_TASKS_* variables; before any task runs
      return initOrm(withLambdaTasks(await options.ormConfig!()) as Options, concurrency + 1);
    })().catch((error: unknown) => {
      ormPromise = undefined; // a rejected init is not cached: the next invocation tries again
      throw error;
    });
    return ormPromise!;
  };

  libraryLog.info('worker created', { tasks: tasks.map((t) => t.name), concurrency });
  // The construct's schedules, checked once now: a wrong one is logged here, not discovered at each tick.
  const scheduleProblems = checkSchedules();

  const handle = async (event: SqsEventLike | Record<string, unknown>, context: LambdaContextLike): Promise<HandlerResponse> => {
    if (isMaintenanceEvent(event)) {
      const orm = await init(); // a failed init throws: the scheduler retries
      return { maintenance: await runMaintenance({ ...options.maintenance, em: orm.em.fork() }) };
    }
    if (isScheduleEvent(event)) return runScheduleEvent(event, (await init()).em, scheduleProblems);
    if (!isSqsEvent(event)) throw unrecognisedEventError(event); // the invocation fails: nothing is dropped silently
    const records = event.Records;
    let orm: MikroORM;
    try {
      orm = await init();
    } catch (error) {
      libraryLog.error('worker initialisation failed; the whole batch goes back to SQS', { error: toError(error).message, messages: records.length });
      await releaseMessages(records);
      return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
    }
    const em: EntityManager = orm.em.fork();
    const failed: SqsRecordLike[] = [];
    // After a hard timeout the abandoned task still runs in this container: the rest of the batch is re-sent, not run next to it.
    let stopped = false;
    const items = batchItemsOf(records);
    await claimFirstWave(em, items.slice(0, concurrency));
    let next = 0;
    const take = (): BatchItem | undefined => items[next] && items[next++];
    /** The next delivery, if it can be claimed with the SUCCESS of the task a lane is finishing. */
    const takeClaimable = (): { item: BatchItem; request: ClaimRequest } | undefined => {
      const item = items[next];
      const request = item && !stopped && !('kind' in item.prepared) ? claimRequestOf(item.prepared) : undefined;
      if (!request) return undefined;
      next++;
      return { item, request };
    };
    const runItem = async (item: BatchItem): Promise<BatchItem | undefined> => {
      const { record, prepared } = item;
      if ('kind' in prepared) {
        if (prepared.kind === 'unprocessed') failed.push(record); // neither run nor handed on
        return undefined;
      }
      let taken: { item: BatchItem; request: ClaimRequest } | undefined;
      try {
        const result = await runDelivery(em.fork(), prepared, {
          claimed: item.claimed,
          claimInDoubt: item.claimInDoubt,
          runOptions: { enforceTimeouts: true, claimNext: () => (taken = takeClaimable())?.request },
          beforeRun: (task, row) => beforeRun(task, row, record, prepared.body, context.getRemainingTimeInMillis(), stopped),
        });
        if (result.kind === 'unprocessed') failed.push(record);
        else if (result.hardTimedOut) stopped = true;
        // Claimed with the SUCCESS: it runs next. In doubt: only a row held by that very claim is its own. Else its own claim.
        if (taken && result.kind === 'processed' && result.nextClaimed) taken.item.claimed = result.nextClaimed;
        else if (taken && result.kind === 'processed') taken.item.claimInDoubt = result.claimInDoubt;
      } catch (error) {
        libraryLog.error('unexpected error handling a message; it goes back to SQS', { messageId: record.messageId, error: toError(error).message });
        failed.push(record); // `taken`, if any, is claimed on its own: a claim we cannot name is never taken for ours
      }
      return taken?.item;
    };
    // Each lane runs the delivery it claimed with its previous task's SUCCESS, else takes the next one.
    const lane = async (): Promise<void> => {
      for (let item = take(); item; item = (await runItem(item)) ?? take());
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, records.length)) }, lane));
    if (failed.length > 0) await releaseMessages(failed);
    return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) };
  };
  const close = async (): Promise<void> => {
    const pending = ormPromise;
    ormPromise = undefined;
    if (!pending || options.orm) return;
    await (await pending.catch(() => undefined))?.close();
  };
  return Object.assign(handle, { close });
}

/** One message of a batch: decoded (or why not), and its row once claimed ahead of its run. */
interface BatchItem {
  readonly record: SqsRecordLike;
  readonly prepared: PreparedDelivery | DeliveryResult;
  /** Claimed ahead of its run: with the batch, or with the SUCCESS of the task before it. */
  claimed?: TaskRow;
  /** Its claim went out with the task before it, that task's commit failed or is in doubt, and the claim could not be put back. */
  claimInDoubt?: ClaimToken;
}

/**
 * The batch's deliveries, decoded, with every copy of a delivery after the first marked a duplicate: SQS can
 * hand the same message (or two sends of one task) to one batch, and each copy must not get a lane of its own —
 * one claim, one run. Copies are told apart by the row they claim (task id and the task name they give; a body
 * without task_id claims the row keyed by its message id).
 */
function batchItemsOf(records: readonly SqsRecordLike[]): BatchItem[] {
  const seen = new Set<string>();
  return records.map((record) => {
    const prepared = prepareDelivery(record);
    if ('kind' in prepared) return { record, prepared };
    const { task_id: taskId, task_name: taskName } = prepared.body;
    const key = taskId ? `${taskId}\u0000${taskName}` : `message\u0000${record.messageId}`;
    if (!seen.has(key)) {
      seen.add(key);
      return { record, prepared };
    }
    libraryLog.warn('the same task twice in one batch: this copy is skipped', { taskId: taskId ?? record.messageId, taskName, messageId: record.messageId });
    return { record, prepared: { kind: 'processed', taskId: taskId ?? record.messageId, status: 'skipped' } };
  });
}

/**
 * Claims the deliveries the lanes start with, in one statement: they run at once, so no claimed row waits.
 * A failed claim is left to each delivery's own (which then reports what it finds).
 */
async function claimFirstWave(em: EntityManager, items: readonly BatchItem[]): Promise<void> {
  const wanted = items.flatMap((item) => {
    const request = 'kind' in item.prepared ? undefined : claimRequestOf(item.prepared);
    return request ? [{ item, request }] : [];
  });
  if (wanted.length < 2) return; // one claim is one statement either way
  let rows: Map<string, TaskRow>;
  try {
    rows = await claimMany(em, wanted.map((w) => w.request));
  } catch {
    return;
  }
  for (const { item, request } of wanted) {
    // The batch holds one delivery per row (batchItemsOf); a row claimed for a message naming another task is not this one's.
    const row = rows.get(request.id);
    if (row && row.message_id === request.messageId && row.task_name === request.taskName) item.claimed = row;
  }
}

/**
 * The worker's check between claim and run: the deadline rule (`decideDeadline`, on the row's stored hard
 * timeout) turned into run, fail, or re-send the message unchanged with its re-send count + 1.
 */
function beforeRun(task: RegisteredTask, row: TaskRow, record: SqsRecordLike, body: MessageBody, remainingMs: number, stopped: boolean): BeforeRun {
  const decision = decideDeadline(task, row, record, remainingMs, stopped);
  if (decision.action !== 'resend') return decision;
  const resent = bodyNamingRow(record.body, body, row.id);
  return {
    action: 'resend',
    send: async () => {
      await resendMessage(queueUrlOfArn(record.eventSourceARN), resent, record.messageAttributes, decision.resends);
      recordResend({ queue: row.queue, taskName: task.name, taskId: row.id });
      libraryLog.info(stopped ? 'batch stopped by a hard timeout: message re-sent' : 'not enough time left: message re-sent', {
        taskId: row.id, taskName: task.name, resends: decision.resends, remainingMs, neededMs: decision.neededMs,
      });
    },
  };
}
