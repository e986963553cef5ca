// The checker's world: one database and one fauxqs per test file, a fresh queue and empty tables per program.
import type { Message } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ledger, MODEL_TASKS } from './tasks';
import { createHandler, type TaskHandler } from '../../src/runtime/handler';
import type { SqsBatchResponse } from '../../src/runtime/types';
import { lambdaContext, sqsEvent } from '../support/events';
import type { TestQueue } from '../support/fauxqs';
import { configureForQueues } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, type WorkerEnvironment } from '../support/worker-environment';

/** The Lambda time left that a worker treats as plenty, and one that forces a deadline re-send (hard 2 s + 10 s margin). */
export const PLENTY_MS = 900_000;
export const SHORT_MS = 5_000;

/** What one program has done so far, and what it saw that already breaks an invariant. */
export interface ProgramState {
  readonly env: WorkerEnvironment;
  readonly queue: TestQueue;
  /** Ids whose enqueue committed (as far as the caller knows). */
  readonly committed: Set<string>;
  /** Ids returned inside a scope that rolled back. */
  readonly rolledBack: Set<string>;
  /** Ids whose cancel was answered with success: they must end CANCELLED and never run. */
  readonly cancelled: Set<string>;
  /** Violations seen while the program ran (I4, I5), each naming its invariant. */
  readonly violations: string[];
  /** A step log, printed with a failure. */
  readonly log: string[];
}

let programs = 0;

export async function startModelEnvironment(): Promise<WorkerEnvironment> {
  const env = await startWorkerEnvironment({ queueName: 'model-0', poolMax: 12 });
  try {
    await ledger.open(env.db.url!);
    return env;
  } catch (error) {
    await stopModelEnvironment(env);
    throw error;
  }
}

export async function stopModelEnvironment(env: WorkerEnvironment | undefined): Promise<void> {
  await ledger.close();
  await stopWorkerEnvironment(env);
}

/**
 * A describe block's model environment (PostgreSQL only: the run log needs a second connection), started before
 * its tests and stopped after them; the returned getter gives it to a test.
 */
export function useModelEnvironment(engine: 'postgres' | 'pglite'): () => WorkerEnvironment {
  let env: WorkerEnvironment | undefined;
  beforeAll(async () => {
    if (engine === 'postgres') env = await startModelEnvironment();
  }, 60_000);
  afterAll(() => stopModelEnvironment(env));
  return () => env!;
}

/** A new program: empty tables, a new queue (nothing in flight from the last one), a fresh ledger. */
export async function startProgram(env: WorkerEnvironment): Promise<ProgramState> {
  const idle = await ledger.idle();
  if (!idle) throw new Error('a task of the previous program is still running');
  await env.db.sql('truncate "task_record", "model_effect", "model_write"');
  ledger.reset();
  const queue = await env.fauxqs.createQueue(`model-${++programs}`, { visibilityTimeout: 30 });
  configureForQueues({ default: queue }, { sqsClient: env.fauxqs.client });
  return { env, queue, committed: new Set(), rolledBack: new Set(), cancelled: new Set(), violations: [], log: [] };
}

export function workerOf(state: ProgramState, concurrency: number): TaskHandler {
  return createHandler({ tasks: MODEL_TASKS, orm: state.env.db.orm, concurrency });
}

export function forkOf(state: ProgramState): EntityManager {
  return state.env.db.orm.em.fork() as EntityManager;
}

/** Receives up to `max` messages (long-polling up to `waitSeconds` for the first). */
export async function receive(state: ProgramState, max: number, waitSeconds = 1): Promise<Message[]> {
  return state.env.fauxqs.receive(state.queue.url, { max, waitSeconds });
}

/**
 * Hands `messages` to a worker as one SQS event, as the Lambda event source does, then deletes every message
 * it did not list in `batchItemFailures` (a message given twice is deleted once).
 */
export async function deliverBatch(state: ProgramState, messages: readonly Message[], options: { concurrency: number; remainingMs: number }): Promise<SqsBatchResponse> {
  const response = (await workerOf(state, options.concurrency)(sqsEvent(messages, state.queue.arn), lambdaContext({ remainingMs: options.remainingMs }))) as SqsBatchResponse;
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  const done = new Map(messages.filter((m) => !failed.has(m.MessageId!)).map((m) => [m.MessageId!, m]));
  await state.env.fauxqs.deleteMessages(state.queue.url, [...done.values()]);
  return response;
}

export interface RowState {
  id: string;
  root_id: string;
  attempt: number;
  status: string;
  task_name: string;
  kwargs: { mode?: string; ms?: number };
  note: string | null;
  traceback: string | null;
  dispatched_at: Date | null;
}

export async function rowsOf(state: ProgramState): Promise<RowState[]> {
  return state.env.db.sql<RowState>('select "id", "root_id", "attempt", "status", "task_name", "kwargs", "note", "traceback", "dispatched_at" from "task_record" order by "enqueued_at", "attempt"');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
