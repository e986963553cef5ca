import { createRunLog } from './accounting';
import { createTestOrm, type TestDatabase, type TestOrmOptions } from './database';
import { Fauxqs, type FauxqsStartOptions, type TestQueue } from './fauxqs';
import { resetLambdaTasksConfig } from '../../src/runtime/config';
import { clearTaskRegistry } from '../../src/runtime/registry';

/** A test file's worker setup: its own database with the run log, fauxqs, and one queue with its DLQ. */
export interface WorkerEnvironment {
  readonly db: TestDatabase;
  readonly fauxqs: Fauxqs;
  readonly queue: TestQueue;
}

/** Options of {@link startWorkerEnvironment}. */
export interface WorkerEnvironmentOptions extends Pick<TestOrmOptions, 'entities' | 'poolMax'> {
  /** The fauxqs queue to create (its DLQ is `<queueName>-dlq`). */
  readonly queueName: string;
  /** The queue's visibility timeout in seconds (fauxqs default of the tests: 30). */
  readonly visibilityTimeout?: number;
  /** How fauxqs is started (the harness's own tests make it fail). */
  readonly fauxqs?: FauxqsStartOptions;
}

/**
 * The timeout to give a `beforeAll` that calls {@link startWorkerEnvironment}: above fauxqs's own 60 s readiness
 * bound, so that on a busy machine the error says what was awaited instead of jest's "Exceeded timeout of … for a hook".
 */
export const START_TIMEOUT_MS = 120_000;

/**
 * Starts the database (with the app's `entities`, if any) and fauxqs side by side, creates the run log
 * table and the queue. If any of that fails, what did start is stopped again before the error is rethrown.
 */
export async function startWorkerEnvironment(options: WorkerEnvironmentOptions): Promise<WorkerEnvironment> {
  const [db, fauxqs] = await Promise.allSettled([createTestOrm({ entities: options.entities, poolMax: options.poolMax }), Fauxqs.start(options.fauxqs)]);
  try {
    if (db.status === 'rejected') throw db.reason;
    if (fauxqs.status === 'rejected') throw fauxqs.reason;
    await createRunLog(db.value);
    return { db: db.value, fauxqs: fauxqs.value, queue: await fauxqs.value.createQueue(options.queueName, { visibilityTimeout: options.visibilityTimeout }) };
  } catch (error) {
    await Promise.allSettled([db.status === 'fulfilled' && db.value.close(), fauxqs.status === 'fulfilled' && fauxqs.value.stop()]);
    throw error;
  }
}

/**
 * Stops both and forgets the tasks and the configuration the file set up. After a failed start too: it stops what
 * is there and never throws for what is missing (`afterAll(() => stopWorkerEnvironment({ db, fauxqs }))` with
 * both undefined is fine). Both are stopped even if one fails; the first failure is rethrown.
 */
export async function stopWorkerEnvironment(env: Partial<Pick<WorkerEnvironment, 'db' | 'fauxqs'>> | undefined): Promise<void> {
  try {
    const results = await Promise.allSettled([env?.db?.close(), env?.fauxqs?.stop()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    clearTaskRegistry();
    resetLambdaTasksConfig();
  }
}
