import { createRunLog } from './accounting';
import { createTestOrm, type TestDatabase, type TestOrmOptions } from './database';
import { Fauxqs, type TestQueue } from './fauxqs';
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
}

/**
 * Starts the database (with the app's `entities`, if any) and fauxqs side by side, creates the run log
 * table and the queue. If any of that fails, what did start is stopped again before the error is rethrown.
 */
export async function startWorkerEnvironment(options: WorkerEnvironmentOptions): Promise<WorkerEnvironment> {
  const [db, fauxqs] = await Promise.allSettled([createTestOrm({ entities: options.entities, poolMax: options.poolMax }), Fauxqs.start()]);
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

/** Stops both and forgets the tasks and the configuration the file set up (after a failed start too: it stops what is there). */
export async function stopWorkerEnvironment(env: Partial<Pick<WorkerEnvironment, 'db' | 'fauxqs'>> | undefined): Promise<void> {
  await Promise.all([env?.db?.close(), env?.fauxqs?.stop()]);
  clearTaskRegistry();
  resetLambdaTasksConfig();
}
