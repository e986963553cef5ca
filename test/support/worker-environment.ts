import { createRunLog } from './accounting';
import { createTestOrm, type TestDatabase } from './database';
import { Fauxqs, type TestQueue } from './fauxqs';
import { resetLambdaTasksConfig } from '../../src/runtime/config';
import { clearTaskRegistry } from '../../src/runtime/registry';

/** A test file's worker setup: its own database with the run log, fauxqs, and one queue with its DLQ. */
export interface WorkerEnvironment {
  readonly db: TestDatabase;
  readonly fauxqs: Fauxqs;
  readonly queue: TestQueue;
}

/** Starts the database and fauxqs side by side, creates the run log table and the queue. */
export async function startWorkerEnvironment(queueName: string): Promise<WorkerEnvironment> {
  const [db, fauxqs] = await Promise.all([createTestOrm(), Fauxqs.start()]);
  await createRunLog(db);
  return { db, fauxqs, queue: await fauxqs.createQueue(queueName) };
}

/** Stops both and forgets the tasks and the configuration the file set up. */
export async function stopWorkerEnvironment(env: Pick<WorkerEnvironment, 'db' | 'fauxqs'>): Promise<void> {
  await Promise.all([env.db.close(), env.fauxqs.stop()]);
  clearTaskRegistry();
  resetLambdaTasksConfig();
}
