import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { cleanupTaskRecords, cleanupTaskRecordsTask } from '../../src/runtime/cleanup';
import { configureLambdaTasks } from '../../src/runtime/config';
import { NonRetriableError, TaskDefinitionError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { retryDelaySeconds } from '../../src/runtime/retries';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliverAll, enqueue } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class Flaky extends Error {
  override name = 'Flaky';
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const failuresLeft = new Map<string, number>();

const flaky = lambdaTask({ name: 'retries.flaky', args: z.object({ key: z.string() }), retryOn: [Flaky], maxRetries: 3, retryDelay: 1 }, async ({ key }, ctx) => {
  const left = failuresLeft.get(key) ?? 0;
  if (left > 0) {
    failuresLeft.set(key, left - 1);
    throw new Flaky(`transient failure, ${left - 1} left`);
  }
  return { attempt: ctx.attempt };
});
const refuses = lambdaTask({ name: 'retries.refuses', args: z.object({}), retryOn: [Error] }, async () => {
  throw new NonRetriableError('the input can never work');
});
const exhausted = lambdaTask({ name: 'retries.exhausted', args: z.object({}), retryOn: [Flaky], maxRetries: 1, retryDelay: 1 }, async () => {
  throw new Flaky('always');
});
const exclusive = lambdaTask({ name: 'retries.exclusive', args: z.object({ n: z.number() }), singleton: true, retryDelay: 1 }, async ({ n }, ctx) => {
  const started = Date.now();
  await sleep(400);
  await (ctx.em as EntityManager).execute('insert into run_log (task_id) values (?)', [ctx.taskId]);
  return { n, started, ended: Date.now() };
});
const exclusiveSkip = lambdaTask({ name: 'retries.exclusiveSkip', args: z.object({ n: z.number() }), singleton: ({ n }) => `group-${n % 1}`, retrySingleton: false }, async ({ n }) => {
  await sleep(400);
  return n;
});

describe('Definition of retries and singletons', () => {
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['retryOn overlapping ignoreErrors', { retryOn: [Flaky], ignoreErrors: [Error] }, 'retryOn', /Flaky overlaps ignoreErrors \(Error\)/],
    ['a non-Error class in retryOn', { retryOn: [Date] }, 'retryOn', /is not an Error class/],
    ['maxRetries without retryOn', { maxRetries: 2 }, 'maxRetries', /only applies with retryOn/],
    ['maxRetries of 26', { retryOn: [Flaky], maxRetries: 26 }, 'maxRetries', /from 0 to 25/],
    ['retryDelay of 0', { retryOn: [Flaky], retryDelay: 0 }, 'retryDelay', /from 1 to 900/],
    ['retrySingleton without singleton', { retrySingleton: false }, 'retrySingleton', /only applies with singleton/],
  ])('refuses %s with TaskDefinitionError', (_title, options, field, message) => {
    let error: unknown;
    try {
      lambdaTask({ name: `bad.${field}`, args: z.object({}), ...options } as never, async () => null);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskDefinitionError);
    expect(error).toMatchObject({ field });
    expect((error as Error).message).toMatch(message);
  });
});

describe('Function: retryDelaySeconds()', () => {
  it('doubles per attempt, adds up to 20 % jitter, and caps at 900 s', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelaySeconds(10, attempt, () => 0))).toEqual([10, 20, 40, 80]);
    expect(retryDelaySeconds(10, 1, () => 0.999)).toBe(12);
    expect(retryDelaySeconds(10, 12, () => 0.5)).toBe(900);
  });
});

describe(`Retries, singletons and cleanup in the worker (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const fork = () => db.orm.em.fork() as EntityManager;
  const tasks = [flaky, refuses, exhausted, exclusive, exclusiveSkip];

  /** Plays the event source until `until()` holds (or the queue has stayed empty for 15 s). */
  const work = (until: () => Promise<boolean>, options: { concurrency?: number } = {}) =>
    deliverAll({ fauxqs, queue }, createHandler({ tasks, orm: db.orm, concurrency: options.concurrency }), { until, waitMs: 15_000 });

  async function chain(rootId: string) {
    return db.sql<{ id: string; attempt: number; status: string; root_id: string; run_after: Date; end_time: Date | null; note: string | null; traceback: string | null; result: unknown }>(
      'select * from task_record where root_id = ? order by attempt',
      [rootId],
    );
  }

  quietLogs(['info', 'warn']);
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'retries' }));
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('a task failing twice with a retryable error, then succeeding, ends SUCCESS on attempt 3: three linked rows, growing delays', async () => {
    failuresLeft.set('twice', 2);
    const rootId = await enqueue(db, (em) => flaky.executeOnCommit({ key: 'twice' }, { em }));
    await work(async () => (await chain(rootId)).some((r) => r.status === 'SUCCESS'));
    const rows = await chain(rootId);
    expect(rows.map((r) => [r.attempt, r.status])).toEqual([[1, 'RETRYING'], [2, 'RETRYING'], [3, 'SUCCESS']]);
    expect(rows[0].id).toBe(rootId);
    expect(rows.every((r) => r.root_id === rootId)).toBe(true);
    expect(rows[0].traceback).toMatch(/^Flaky: transient failure, 1 left/);
    expect(rows[0].note).toMatch(/^Flaky: retry 1 of 3 in 1 s as attempt 2/);
    expect(rows[2].result).toEqual({ attempt: 3 });
    const waits = [1, 2].map((i) => new Date(rows[i].run_after).getTime() - new Date(rows[i - 1].end_time!).getTime());
    expect(waits[1]).toBeGreaterThan(waits[0]);
    expect(waits[0]).toBeGreaterThanOrEqual(900);
  });

  it('NonRetriableError fails at once', async () => {
    const rootId = await enqueue(db, (em) => refuses.executeOnCommit({}, { em }));
    await work(async () => (await chain(rootId)).some((r) => r.status === 'FAILED'));
    expect((await chain(rootId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'FAILED']]);
  });

  it('ends FAILED when the retries are exhausted', async () => {
    const rootId = await enqueue(db, (em) => exhausted.executeOnCommit({}, { em }));
    await work(async () => (await chain(rootId)).some((r) => r.status === 'FAILED'));
    expect((await chain(rootId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'RETRYING'], [2, 'FAILED']]);
  });

  it('retries in eager mode and drainTasks too (without waiting for the delay)', async () => {
    configureLambdaTasks({ eager: true });
    failuresLeft.set('eager', 1);
    const em = fork();
    const rootId = flaky.executeOnCommit({ key: 'eager' }, { em });
    await em.flush();
    expect((await chain(rootId)).map((r) => r.status)).toEqual(['RETRYING', 'SUCCESS']);
  });

  itOnPostgres('two concurrent deliveries of a singleton task run one at a time; the second is retried', async () => {
    const ids = await enqueue(db, (em) => [exclusive.executeOnCommit({ n: 1 }, { em }), exclusive.executeOnCommit({ n: 2 }, { em })]);
    const done = async () => (await db.sql<{ n: number }>("select count(*)::int as n from task_record where task_name = 'retries.exclusive' and status = 'SUCCESS'"))[0].n === 2;
    await work(done, { concurrency: 2 });
    const runs = await db.sql<{ result: { started: number; ended: number }; root_id: string; attempt: number }>(
      "select result, root_id, attempt from task_record where task_name = 'retries.exclusive' and status = 'SUCCESS' order by (result->>'started')::bigint",
    );
    expect(runs).toHaveLength(2);
    expect(runs[1].result.started).toBeGreaterThanOrEqual(runs[0].result.ended); // no overlap
    expect(runs.map((r) => r.root_id).sort()).toEqual([...ids].sort());
    // The one that found the lock taken went back to the queue as the same attempt: contention is not an attempt.
    expect(runs.map((r) => r.attempt)).toEqual([1, 1]);
    expect(await db.sql("select id from task_record where task_name = 'retries.exclusive' and status <> 'SUCCESS'")).toEqual([]);
  });

  itOnPostgres('with retrySingleton: false, the second records SUCCESS with a note instead', async () => {
    await enqueue(db, (em) => [exclusiveSkip.executeOnCommit({ n: 1 }, { em }), exclusiveSkip.executeOnCommit({ n: 2 }, { em })]);
    const done = async () => (await db.sql<{ n: number }>("select count(*)::int as n from task_record where task_name = 'retries.exclusiveSkip' and status = 'SUCCESS'"))[0].n === 2;
    await work(done, { concurrency: 2 });
    const notes = await db.sql<{ note: string | null }>("select note from task_record where task_name = 'retries.exclusiveSkip' order by note nulls first");
    expect(notes.map((n) => n.note)).toEqual([null, 'skipped: singleton: another run holds its lock']);
  });

  it('cleanup deletes only old terminal rows, oldest first, at most `limit` per call', async () => {
    await db.sql('delete from task_record');
    const insert = (status: string, daysAgo: number) =>
      db.sql(
        `insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout, enqueued_at, end_time)
         values (?, 'cleanup.demo', '{}'::jsonb, 'default', ?, ?, 300, now() - make_interval(days => ?), case when ? in ('QUEUED', 'RUNNING') then null else now() - make_interval(days => ?) end) returning id`,
        [globalThis.crypto.randomUUID(), status, globalThis.crypto.randomUUID(), daysAgo, status, daysAgo],
      );
    for (const [status, days] of [['SUCCESS', 40], ['FAILED', 50], ['RETRYING', 35], ['QUEUED', 60], ['RUNNING', 60], ['SUCCESS', 5]] as const) await insert(status, days);
    expect(await cleanupTaskRecords({ em: fork(), olderThanDays: 30, limit: 2 })).toEqual({ deleted: 2 });
    expect((await db.sql<{ status: string }>('select status from task_record order by status')).map((r) => r.status)).toEqual(['QUEUED', 'RETRYING', 'RUNNING', 'SUCCESS']);
    expect(await cleanupTaskRecords({ em: fork(), olderThanDays: 30, limit: 2 })).toEqual({ deleted: 1 });
    expect(await cleanupTaskRecords({ em: fork(), olderThanDays: 30 })).toEqual({ deleted: 0 });
    expect((await db.sql<{ status: string }>('select status from task_record order by status')).map((r) => r.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCESS']);
  });

  it('runs cleanup as the built-in task lambdaTasks.cleanupTaskRecords', async () => {
    await db.sql("update task_record set end_time = now() - interval '400 days', status = 'SUCCESS' where status = 'SUCCESS'");
    const em = fork();
    cleanupTaskRecordsTask().executeOnCommit({ olderThanDays: 365 }, { em });
    configureLambdaTasks({ eager: true });
    await em.flush();
    const rows = await db.sql<{ task_name: string; result: unknown }>("select task_name, result from task_record where task_name = 'lambdaTasks.cleanupTaskRecords'");
    expect(rows).toEqual([{ task_name: 'lambdaTasks.cleanupTaskRecords', result: { deleted: 1 } }]);
  });

  it('cleanup deletes old CANCELLED rows too (they never started: no start_time)', async () => {
    await db.sql('delete from task_record');
    for (const days of [45, 10]) {
      await db.sql(
        `insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout, enqueued_at, end_time)
         values (?, 'cleanup.demo', '{}'::jsonb, 'default', 'CANCELLED', ?, 300, now() - make_interval(days => ?), now() - make_interval(days => ?))`,
        [globalThis.crypto.randomUUID(), globalThis.crypto.randomUUID(), days, days],
      );
    }
    expect(await cleanupTaskRecords({ em: fork(), olderThanDays: 30 })).toEqual({ deleted: 1 });
    expect(await db.sql('select status from task_record')).toEqual([{ status: 'CANCELLED' }]);
  });
});
