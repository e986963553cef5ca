// Two operators retrying the same FAILED task at once, in every isolation level and with no transaction:
// exactly one next attempt is written; the other call gets TaskStateError (never a raw driver error). The
// second call asks to retry attempt 1, which is no longer the latest once the first has committed, so it can
// never succeed: one fulfilled, one TaskStateError, history [1 FAILED, 2 QUEUED], every round.
// A cancelTask whose snapshot predates a worker's claim of the row gets TaskStateError as well.
// PostgreSQL only: the two retries need two connections at once.
import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { cancelTask } from '../../src/runtime/cancel';
import { TaskStateError } from '../../src/runtime/errors';
import { retryTask } from '../../src/runtime/replay';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

const ROUNDS = 20;

/** Resolves each caller once `parties` callers have arrived (a state, not a clock). */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    arrived += 1;
    if (arrived === parties) open();
    return opened;
  };
}

type Mode = IsolationLevel.READ_COMMITTED | IsolationLevel.REPEATABLE_READ | IsolationLevel.SERIALIZABLE | 'no transaction';

describe(`retryTask() by two operators at once (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;

  quietLogs(['info', 'warn']);
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'retry-race', poolMax: 8 }));
  }, START_TIMEOUT_MS);
  beforeEach(() => configureForQueues({ default: queue }, { sqsClient: fauxqs.client }));
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  /** A FAILED attempt 1, written directly. */
  async function failedTask(): Promise<string> {
    const id = globalThis.crypto.randomUUID();
    await db.sql(
      `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout, end_time, traceback)
       values (?, 'race.task', '{"n":1}'::jsonb, 'default', 'FAILED', 1, ?, 60, now(), 'Error: boom')`,
      [id, id],
    );
    return id;
  }

  /**
   * One operator's retry. In a transaction, each first reads something (under REPEATABLE READ and SERIALIZABLE
   * that fixes its snapshot) and waits for the other to have done so too, so both snapshots predate both retries.
   */
  function retryOnce(mode: Mode, id: string, bothStarted: () => Promise<void>): Promise<string> {
    const em = db.orm.em.fork() as EntityManager;
    if (mode === 'no transaction') return bothStarted().then(() => retryTask(em, id));
    return em.transactional(async (tem) => {
      await tem.execute('select 1');
      await bothStarted();
      return retryTask(tem, id);
    }, { isolationLevel: mode });
  }

  const modes: Mode[] = [IsolationLevel.READ_COMMITTED, IsolationLevel.REPEATABLE_READ, IsolationLevel.SERIALIZABLE, 'no transaction'];

  itOnPostgres.each(modes)(`%s: ${ROUNDS} rounds, each one attempt 2 and one TaskStateError`, async (mode) => {
    const rounds: { fulfilled: number; stateErrors: number; other: string[]; reasons: string[]; attempts: string }[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const id = await failedTask();
      const bothStarted = barrier(2);
      const outcomes = await Promise.allSettled([retryOnce(mode, id, bothStarted), retryOnce(mode, id, bothStarted)]);
      const history = await db.sql<{ attempt: number; status: string }>('select attempt, status from task_record where root_id = ? order by attempt, enqueued_at', [id]);
      rounds.push({
        fulfilled: outcomes.filter((o) => o.status === 'fulfilled').length,
        stateErrors: outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof TaskStateError).length,
        other: outcomes.flatMap((o) => (o.status === 'rejected' && !(o.reason instanceof TaskStateError) ? [String(o.reason)] : [])),
        reasons: outcomes.flatMap((o) => (o.status === 'rejected' && o.reason instanceof TaskStateError ? [o.reason.message.replace(/^retryTask\([^)]*\): /, '')] : [])),
        attempts: history.map((r) => `${r.attempt} ${r.status}`).join(', '),
      });
    }
    // READ COMMITTED and no transaction: the lock makes the second read the first's attempt 2. A snapshot older than
    // the first's commit (REPEATABLE READ, SERIALIZABLE) cannot see it: the unique index refuses the second row.
    const reason = mode === IsolationLevel.READ_COMMITTED || mode === 'no transaction'
      ? 'attempt 2 of this task exists: retry the latest attempt'
      : expect.stringMatching(/^attempt 2 of this task was written by a concurrent retryTask/);
    const expected = { fulfilled: 1, stateErrors: 1, other: [], reasons: [reason], attempts: '1 FAILED, 2 QUEUED' };
    expect(rounds).toEqual(Array.from({ length: ROUNDS }, () => expected));
  });
});

describe(`cancelTask() in a snapshot older than a worker's claim (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;

  quietLogs(['info', 'warn']);
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'cancel-race', poolMax: 4 }));
  }, START_TIMEOUT_MS);
  beforeEach(() => configureForQueues({ default: queue }, { sqsClient: fauxqs.client }));
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  itOnPostgres.each([IsolationLevel.REPEATABLE_READ, IsolationLevel.SERIALIZABLE])('%s: TaskStateError, not a driver error; the claim stands', async (isolationLevel) => {
    const id = globalThis.crypto.randomUUID();
    await db.sql(
      `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout, dispatched_at)
       values (?, 'race.task', '{}'::jsonb, 'default', 'QUEUED', 1, ?, 60, now())`,
      [id, id],
    );
    const error = await (db.orm.em.fork() as EntityManager).transactional(async (tem) => {
      await tem.execute('select 1'); // the snapshot
      await db.sql("update task_record set status = 'RUNNING', start_time = now() where id = ?", [id]); // a worker's claim, committed
      return cancelTask(tem, id);
    }, { isolationLevel }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskStateError);
    expect((error as Error).message).toMatch(/changed after this transaction's snapshot/);
    expect((await db.sql<{ status: string }>('select status from task_record where id = ?', [id]))[0].status).toBe('RUNNING');
  });
});
