import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { EntityManager, MikroORM, Options } from '@mikro-orm/core';
import { MikroORM as PostgreSqlMikroORM } from '@mikro-orm/postgresql';
import { mapWithConcurrency } from './concurrency';
import { getLambdaTasksConfig, getSqsClient } from './config';
import { LambdaTasksError, toError } from './errors';
import { executeDelivery, failWithoutRunning, type DeliveryResult } from './executor';
import { libraryLog } from './logger';
import { runMaintenance, type MaintenanceOptions, type MaintenanceStepResult } from './maintenance';
import { isMaintenanceEvent, RESENDS_ATTRIBUTE, type MessageBody } from './message';
import { resolveSecretsIntoEnv } from './secrets';
import { resendMessage } from './send';
import { registeredTaskOf, type RegisteredTask } from './task';
import { DEADLINE_MARGIN_SECONDS, MAX_DEADLINE_RESENDS } from './timeouts';
import { withLambdaTasks } from './with-lambda-tasks';

/** An SQS record as Lambda delivers it (the fields the worker reads; `SQSRecord` of @types/aws-lambda fits). */
export interface SqsRecordLike {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly eventSourceARN: string;
  readonly messageAttributes?: Readonly<Record<string, { readonly stringValue?: string; readonly dataType?: string }>>;
}

/** An SQS event (`SQSEvent` of @types/aws-lambda fits). */
export interface SqsEventLike {
  readonly Records: readonly SqsRecordLike[];
}

/** The Lambda context fields the worker reads (`Context` of @types/aws-lambda fits). */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** The partial batch response (`SQSBatchResponse`). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The result of the scheduled maintenance event. */
export interface MaintenanceResponse {
  /** Each step (relay, sweep, reconcile) with its duration, result or error. */
  readonly maintenance: Record<string, MaintenanceStepResult>;
}

/** What the handler returns: the partial batch response, or the maintenance summary. */
export type HandlerResponse = SqsBatchResponse | MaintenanceResponse;

/** The worker handler: `async (event, context)`, no callback (Node.js 24 on Lambda has none). */
export interface TaskHandler {
  (event: SqsEventLike | Record<string, unknown>, context: LambdaContextLike): Promise<SqsBatchResponse | MaintenanceResponse>;
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
   * and the pool is sized to `concurrency + 1`. Give this or `orm`.
   */
  readonly ormConfig?: () => Options | Promise<Options>;
  /** An initialised ORM (tests, or an app that manages its own); must be configured with `withLambdaTasks`. */
  readonly orm?: MikroORM;
  /**
   * Records run at once per invocation.
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * What the scheduled maintenance event does besides relay, sweep and reconciliation (the cleanup's retention and limit).
   * @default - keep 30 days, delete at most 1000 rows per run
   */
  readonly maintenance?: MaintenanceOptions;
}

function collectTasks(tasks: CreateHandlerOptions['tasks']): RegisteredTask[] {
  const values = Array.isArray(tasks) ? tasks : Object.values(tasks ?? {});
  const found = values.map(registeredTaskOf).filter((t): t is RegisteredTask => t !== undefined);
  if (found.length === 0) {
    throw new LambdaTasksError('createHandler: no tasks given: pass { tasks: [myTask] } or { tasks: await import("./tasks") } (values made by lambdaTask)');
  }
  return found;
}

/** The queue URL of an SQS ARN: the configured URL of that queue name, else the regional endpoint's. */
function queueUrlOf(arn: string): string {
  const [, , , region, account, name] = arn.split(':');
  let queues: ReturnType<typeof getLambdaTasksConfig>['queues'] = {};
  try {
    queues = getLambdaTasksConfig().queues;
  } catch {
    // Without configuration, fall back to the regional URL.
  }
  for (const settings of Object.values(queues)) {
    for (const url of [settings.url, settings.dlqUrl]) if (url && url.endsWith(`/${account}/${name}`)) return url;
  }
  return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
}

/** Makes failed messages visible at once, so the redrive to the DLQ is immediate rather than a visibility timeout later. */
async function releaseMessages(records: readonly SqsRecordLike[]): Promise<void> {
  await Promise.all(
    records.map(async (record) => {
      try {
        const queueUrl = queueUrlOf(record.eventSourceARN);
        const command = new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 0 });
        await getSqsClient().send(command);
      } catch (error) {
        libraryLog.warn('could not reset the visibility of a failed message; SQS will redeliver it after its visibility timeout', { messageId: record.messageId, error: toError(error).message });
      }
    }),
  );
}

/**
 * Creates the worker's Lambda handler: for an SQS event it claims and runs each record's task
 * and returns `{ batchItemFailures }` listing exactly the messages that could be neither run nor
 * handed on (malformed, unknown task, database unreachable before the claim); a task's own failure
 * is recorded FAILED and never goes there.
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
  const tasks = collectTasks(options.tasks);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new LambdaTasksError(`createHandler: concurrency must be a positive integer, got ${String(concurrency)}`);
  if (!options.orm === !options.ormConfig) throw new LambdaTasksError('createHandler: give exactly one of ormConfig or orm');

  let ormPromise: Promise<MikroORM> | undefined;
  const init = (): Promise<MikroORM> => {
    ormPromise ??= (async (): Promise<MikroORM> => {
      if (options.orm) return options.orm;
      await resolveSecretsIntoEnv();
      const config = withLambdaTasks(await options.ormConfig!());
      const pool = { ...(config as { pool?: Record<string, unknown> }).pool, max: concurrency + 1 };
      return (await PostgreSqlMikroORM.init({ ...config, pool } as Options as Parameters<typeof PostgreSqlMikroORM.init>[0])) as unknown as MikroORM;
    })().catch((error: unknown) => {
      ormPromise = undefined; // a rejected init is not cached: the next invocation tries again
      throw error;
    });
    return ormPromise!;
  };

  libraryLog.info('worker created', { tasks: tasks.map((t) => t.name), concurrency });

  const handle = async (event: SqsEventLike | Record<string, unknown>, context: LambdaContextLike): Promise<HandlerResponse> => {
    if (isMaintenanceEvent(event)) {
      const orm = await init(); // a failed init throws: the scheduler retries
      return { maintenance: await runMaintenance(orm.em.fork(), options.maintenance) };
    }
    const records = (event as SqsEventLike).Records ?? [];
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
    await mapWithConcurrency(records, concurrency, async (record) => {
      try {
        const result = await executeDelivery(em.fork(), record, {
          runOptions: { enforceTimeouts: true },
          beforeClaim: (task, body) => checkDeadline(em, record, task, body, context, stopped),
        });
        if (result.kind === 'unprocessed') failed.push(record);
        else if (result.hardTimedOut) stopped = true;
      } catch (error) {
        libraryLog.error('unexpected error handling a message; it goes back to SQS', { messageId: record.messageId, error: toError(error).message });
        failed.push(record);
      }
    });
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

function resendsOf(record: SqsRecordLike): number {
  const value = Number(record.messageAttributes?.[RESENDS_ATTRIBUTE]?.stringValue ?? 0);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/**
 * Before a claim: when the task's hard timeout plus the margin does not fit in the time left
 * (or the batch was stopped by a hard timeout), re-send the message unchanged with its re-send
 * count + 1 and report it processed; a task that can never fit, or was re-sent too often, is
 * recorded FAILED with a note instead of looping. A failed re-send goes to batchItemFailures.
 */
async function checkDeadline(
  em: EntityManager,
  record: SqsRecordLike,
  task: RegisteredTask,
  body: MessageBody,
  context: LambdaContextLike,
  stopped: boolean,
): Promise<DeliveryResult | undefined> {
  let hardTimeout: number;
  try {
    // Resolved against this worker's queue: a hard timeout above the queue's maximum throws here.
    hardTimeout = task.resolveTimeouts().hardTimeout;
  } catch (error) {
    return failWithoutRunning(em.fork(), record, body, task, `deadline: it can never run on this worker: ${toError(error).message}`);
  }
  const neededMs = (hardTimeout + DEADLINE_MARGIN_SECONDS) * 1000;
  const remainingMs = context.getRemainingTimeInMillis();
  if (!stopped && neededMs <= remainingMs) return undefined;
  const resends = resendsOf(record);
  if (resends >= MAX_DEADLINE_RESENDS) {
    return failWithoutRunning(em.fork(), record, body, task, `deadline: re-sent ${resends} times for lack of time (needs ${neededMs / 1000} s); raise the worker's timeout`);
  }
  try {
    await resendMessage(queueUrlOf(record.eventSourceARN), record.body, record.messageAttributes, resends + 1);
  } catch (error) {
    libraryLog.error('could not re-send a message for lack of time; it goes back to SQS', { messageId: record.messageId, error: toError(error).message });
    return { kind: 'unprocessed', reason: 're-send failed' };
  }
  libraryLog.info(stopped ? 'batch stopped by a hard timeout: message re-sent' : 'not enough time left: message re-sent', {
    taskId: body.task_id, taskName: task.name, resends: resends + 1, remainingMs, neededMs,
  });
  return { kind: 'processed', taskId: body.task_id ?? null, status: 'resent' };
}
