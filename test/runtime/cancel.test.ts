import { z } from 'zod';
import { cancelTask } from '../../src/runtime/cancel';
import { TaskStateError, TaskValidationError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { lambdaTasksMigrations } from '../../src/runtime/migrations';
import { getTask, waitForTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { retryTask } from '../../src/runtime/replay';
import { createTestOrm, engine, executedMigrationNames, itOnPostgres, migratorOf, type TestDatabase } from '../support/database';
import { deliver, enqueue, receiveMessages } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

const ran: string[] = [];
let gate: Promise<void> = Promise.resolve();
let started: (id: string) => void = () => undefined;

const note = lambdaTask({ name: 'cancel.note', args: z.object({ text: z.string() }) }, async ({ text }, ctx) => {
  ran.push(ctx.taskId!);
  started(ctx.taskId!);
  await gate;
  return text;
});
class Flaky extends Error {
  override name = 'Flaky';
}
let brokenUntilFixed = true;
const fragile = lambdaTask({ name: 'cancel.fragile', args: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
  ran.push(ctx.taskId!);
  if (brokenUntilFixed) throw new Error('the mail server is down');
  return n * 2;
});
const flaky = lambdaTask({ name: 'cancel.flaky', args: z.object({}), retryOn: [Flaky], maxRetries: 3, retryDelay: 600 }, async (_args, ctx) => {
  ran.push(ctx.taskId!);
  throw new Flaky('try again later');
});

describe(`cancelTask() and retryTask() (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const status = async (id: string) => (await db.sql<{ status: string }>('select status from task_record where id = ?', [id]))[0]?.status;
  const worker = () => createHandler({ tasks: [note, flaky, fragile], orm: db.orm });

  quietLogs(['info', 'warn']);
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'cancel' }));
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    ran.length = 0;
    gate = Promise.resolve();
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('QUEUED → CANCELLED in the caller’s transaction; the worker skips its message, deletes it, and never runs the task', async () => {
    const id = await enqueue(db, (em) => note.executeOnCommit({ text: 'never' }, { em }));
    const messages = await receiveMessages({ fauxqs, queue }, 1);
    expect(await enqueue(db, (em) => cancelTask(em, id))).toBe(id);
    expect(await status(id)).toBe(TaskStatus.CANCELLED);
    const { response } = await deliver({ fauxqs, queue }, worker(), { messages });
    expect(response.batchItemFailures).toEqual([]); // processed: the message is deleted, not retried
    expect(ran).toEqual([]);
    expect(await status(id)).toBe(TaskStatus.CANCELLED);
    expect((await fauxqs.count(queue.url)).total).toBe(0);
    const [row] = await db.sql<{ end_time: Date | null; note: string }>('select end_time, note from task_record where id = ?', [id]);
    expect(row.end_time).not.toBeNull();
    expect(row.note).toBe('cancelled before it ran');
  });

  it('a cancel that rolls back leaves the task QUEUED, and it runs', async () => {
    const id = await enqueue(db, (em) => note.executeOnCommit({ text: 'kept' }, { em }));
    await expect(enqueue(db, async (em) => {
      await cancelTask(em, id);
      throw new Error('the caller changed its mind');
    })).rejects.toThrow('changed its mind');
    expect(await status(id)).toBe(TaskStatus.QUEUED);
    await deliver({ fauxqs, queue }, worker(), { messages: await receiveMessages({ fauxqs, queue }, 1) });
    expect(ran).toEqual([id]);
    expect(await status(id)).toBe(TaskStatus.SUCCESS);
  });

  it('cancelled in the transaction that enqueued it: no message is ever sent', async () => {
    const id = await enqueue(db, async (em) => {
      const queued = note.executeOnCommit({ text: 'gone' }, { em });
      await em.flush();
      await cancelTask(em, queued);
      return queued;
    });
    expect(await status(id)).toBe(TaskStatus.CANCELLED);
    expect(await receiveMessages({ fauxqs, queue }, 1, { timeoutMs: 1_500 })).toEqual([]);
  });

  it('cancelled before the first flush of the transaction that enqueued it: written CANCELLED, never sent or run', async () => {
    const id = await enqueue(db, async (em) => {
      const queued = note.executeOnCommit({ text: 'not yet flushed' }, { em });
      expect(await cancelTask(em, queued)).toBe(queued);
      await expect(cancelTask(em, queued)).rejects.toThrow(/the task is already CANCELLED/);
      return queued;
    });
    const [row] = await db.sql<{ status: string; note: string; end_time: Date | null }>('select status, note, end_time from task_record where id = ?', [id]);
    expect(row).toMatchObject({ status: TaskStatus.CANCELLED, note: 'cancelled before it ran' });
    expect(row.end_time).not.toBeNull();
    expect(await receiveMessages({ fauxqs, queue }, 1, { timeoutMs: 1_500 })).toEqual([]);
  });

  it('outside a transaction, cancelled before the flush that writes it: written CANCELLED, never sent', async () => {
    const em = db.orm.em.fork();
    const id = note.executeOnCommit({ text: 'persisted only' }, { em });
    const other = note.executeOnCommit({ text: 'sent' }, { em });
    expect(await cancelTask(em, id.toUpperCase())).toBe(id); // ids compare case-insensitively
    await em.flush();
    expect(await status(id)).toBe(TaskStatus.CANCELLED);
    expect(await status(other)).toBe(TaskStatus.QUEUED);
    const messages = await receiveMessages({ fauxqs, queue }, 2, { timeoutMs: 2_500 });
    expect(messages.map((m) => (JSON.parse(m.Body!) as { task_id: string }).task_id)).toEqual([other]);
    await deliver({ fauxqs, queue }, worker(), { messages });
    expect(ran).toEqual([other]);
  });

  it('follows the root to its latest attempt at any depth: 1 RETRYING → 2 RETRYING → 3 QUEUED, and 1 FAILED → 2 RETRYING → 3 QUEUED', async () => {
    const chainOf = async (statuses: string[]) => {
      const ids = statuses.map(() => globalThis.crypto.randomUUID());
      for (const [n, s] of statuses.entries()) {
        await db.sql(
          `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout, dispatched_at)
           values (?, 'cancel.note', '{"text":"deep"}'::jsonb, 'default', ?, ?, ?, 60, now())`,
          [ids[n], s, n + 1, ids[0]],
        );
      }
      return ids;
    };
    const attempts = async (rootId: string) => (await db.sql<{ status: string }>('select status from task_record where root_id = ? order by attempt', [rootId])).map((r) => r.status);
    for (const first of ['RETRYING', 'FAILED']) {
      const [root, second, third] = await chainOf([first, 'RETRYING', 'QUEUED']);
      expect(await enqueue(db, (em) => cancelTask(em, root))).toBe(third);
      expect(await attempts(root)).toEqual([first, 'RETRYING', 'CANCELLED']);
      const refused = await enqueue(db, (em) => cancelTask(em, second)).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TaskStateError);
      expect(refused).toMatchObject({ taskId: second, status: TaskStatus.CANCELLED });
      expect((refused as Error).message).toMatch(/its latest attempt \(3\) is already CANCELLED/);
    }
    const [root, , running] = await chainOf(['RETRYING', 'RETRYING', 'RUNNING']);
    await expect(enqueue(db, (em) => cancelTask(em, root))).rejects.toMatchObject({ status: TaskStatus.RUNNING, message: expect.stringMatching(/latest attempt \(3\) is RUNNING/) });
    expect(await status(running)).toBe(TaskStatus.RUNNING);
  });

  describe('ids that are not UUIDs', () => {
    const notIds = ['42', 'not-a-uuid', "x' or '1'='1", '0f8fad5b-d9cb-469f-a165-70867728950', ''];
    const calls: [string, string, (id: string) => Promise<unknown>][] = [
      ['getTask', 'id', (id) => getTask(db.orm.em.fork(), id)],
      ['waitForTask', 'id', (id) => waitForTask(db.orm.em.fork(), id, { timeoutMs: 10 })],
      ['cancelTask', 'taskId', (id) => enqueue(db, (em) => cancelTask(em, id))],
      ['retryTask', 'taskId', (id) => enqueue(db, (em) => retryTask(em, id))],
    ];

    it.each(calls)('%s: TaskValidationError naming the argument %s, with no SQL in the message', async (name, argument, call) => {
      for (const id of notIds) {
        const error = await call(id).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TaskValidationError);
        expect(error).toMatchObject({ field: argument });
        const { message } = error as Error;
        expect(message).toContain(`${name}()`);
        expect(message).toContain(argument);
        expect(message).not.toMatch(/select|update|insert|task_record|uuid:|syntax/i);
      }
      const notAString = await call(42 as unknown as string).catch((e: unknown) => e);
      expect(notAString).toBeInstanceOf(TaskValidationError);
    });

    it('accepts a UUID in upper case', async () => {
      const id = await enqueue(db, (em) => note.executeOnCommit({ text: 'upper' }, { em }));
      expect((await getTask(db.orm.em.fork(), id.toUpperCase()))?.id).toBe(id);
      expect(await enqueue(db, (em) => cancelTask(em, id.toUpperCase()))).toBe(id);
      await deliver({ fauxqs, queue }, worker(), { messages: await receiveMessages({ fauxqs, queue }, 1) }); // its message: deleted unrun
      expect(ran).toEqual([]);
    });
  });

  itOnPostgres('a RUNNING task cannot be cancelled: TaskStateError names the status, and the run completes', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const running = new Promise<string>((resolve) => (started = resolve));
    const id = await enqueue(db, (em) => note.executeOnCommit({ text: 'busy' }, { em }));
    const delivering = deliver({ fauxqs, queue }, worker(), { messages: await receiveMessages({ fauxqs, queue }, 1) });
    expect(await running).toBe(id);
    const error = await enqueue(db, (em) => cancelTask(em, id)).catch((e: unknown) => e);
    release();
    await delivering;
    expect(error).toBeInstanceOf(TaskStateError);
    expect(error).toMatchObject({ taskId: id, status: TaskStatus.RUNNING });
    expect((error as Error).message).toMatch(/is RUNNING: a running task cannot be cancelled/);
    expect(await status(id)).toBe(TaskStatus.SUCCESS);
  });

  it('a finished task or an unknown id: TaskStateError, nothing changes', async () => {
    const id = await enqueue(db, (em) => note.executeOnCommit({ text: 'done' }, { em }));
    await deliver({ fauxqs, queue }, worker(), { messages: await receiveMessages({ fauxqs, queue }, 1) });
    await expect(enqueue(db, (em) => cancelTask(em, id))).rejects.toThrow(/the task is already SUCCESS/);
    const unknown = globalThis.crypto.randomUUID();
    await expect(enqueue(db, (em) => cancelTask(em, unknown))).rejects.toMatchObject({ name: 'TaskStateError', status: null });
    expect(await status(id)).toBe(TaskStatus.SUCCESS);
  });

  it('given a RETRYING attempt, cancels the retry it scheduled; the history stays', async () => {
    const rootId = await enqueue(db, (em) => flaky.executeOnCommit({}, { em }));
    await deliver({ fauxqs, queue }, worker(), { messages: await receiveMessages({ fauxqs, queue }, 1) });
    const chain = () => db.sql<{ id: string; attempt: number; status: string }>('select id, attempt, status from task_record where root_id = ? order by attempt', [rootId]);
    expect((await chain()).map((r) => r.status)).toEqual(['RETRYING', 'QUEUED']);
    const retry = (await chain())[1].id;
    expect(await enqueue(db, (em) => cancelTask(em, rootId))).toBe(retry);
    expect((await chain()).map((r) => [r.attempt, r.status])).toEqual([[1, 'RETRYING'], [2, 'CANCELLED']]);
    await expect(enqueue(db, (em) => cancelTask(em, rootId))).rejects.toThrow(/its latest attempt \(2\) is already CANCELLED/);
    expect(ran).toHaveLength(1);
  });

  describe('retryTask()', () => {
    const history = (rootId: string) => db.sql<{ id: string; attempt: number; status: string; result: unknown }>('select id, attempt, status, result from task_record where root_id = ? order by attempt', [rootId]);
    const runOne = async () => deliver({ fauxqs, queue }, worker(), { messages: await receiveMessages({ fauxqs, queue }, 1) });

    beforeEach(() => {
      brokenUntilFixed = true;
    });

    it('FAILED → retryTask → attempt 2 runs with the same arguments and succeeds; attempt 1 stays FAILED', async () => {
      const rootId = await enqueue(db, (em) => fragile.executeOnCommit({ n: 21 }, { em }));
      await runOne();
      expect((await history(rootId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'FAILED']]);
      brokenUntilFixed = false;
      const nextId = await enqueue(db, (em) => retryTask(em, rootId));
      await runOne();
      expect((await history(rootId)).map((r) => [r.id, r.attempt, r.status, r.result])).toEqual([[rootId, 1, 'FAILED', null], [nextId, 2, 'SUCCESS', 42]]);
      expect(ran).toEqual([rootId, nextId]);
    });

    it('CANCELLED → retryTask runs it after all', async () => {
      brokenUntilFixed = false;
      const rootId = await enqueue(db, (em) => fragile.executeOnCommit({ n: 1 }, { em }));
      await enqueue(db, (em) => cancelTask(em, rootId));
      await runOne(); // the cancelled attempt's message: deleted unrun
      const nextId = await enqueue(db, (em) => retryTask(em, rootId));
      await runOne();
      expect((await history(rootId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'CANCELLED'], [2, 'SUCCESS']]);
      expect(ran).toEqual([nextId]);
    });

    it('refuses a task that did not fail, an attempt that is not the latest, and an unknown id (TaskStateError), writing nothing', async () => {
      const rootId = await enqueue(db, (em) => fragile.executeOnCommit({ n: 3 }, { em }));
      await expect(enqueue(db, (em) => retryTask(em, rootId))).rejects.toMatchObject({ name: 'TaskStateError', operation: 'retry', status: 'QUEUED' });
      await runOne();
      await enqueue(db, (em) => retryTask(em, rootId));
      await expect(enqueue(db, (em) => retryTask(em, rootId))).rejects.toThrow(/attempt 2 of this task exists: retry the latest attempt/);
      await expect(enqueue(db, (em) => retryTask(em, globalThis.crypto.randomUUID()))).rejects.toMatchObject({ status: null });
      expect((await history(rootId)).map((r) => r.attempt)).toEqual([1, 2]);
      await runOne(); // attempt 2's message: the next test receives its own
    });

    it('outside a transaction it commits only the new attempt: what the em has pending stays pending', async () => {
      const rootId = await enqueue(db, (em) => fragile.executeOnCommit({ n: 8 }, { em }));
      await runOne();
      const em = db.orm.em.fork();
      const pending = note.executeOnCommit({ text: 'not flushed yet' }, { em });
      const nextId = await retryTask(em, rootId);
      expect(await status(nextId)).toBe(TaskStatus.QUEUED);
      expect(await status(pending)).toBeUndefined();
      em.clear();
      await runOne(); // attempt 2's message
    });

    itOnPostgres('two operators replaying the same failure at once create one attempt 2', async () => {
      const rootId = await enqueue(db, (em) => fragile.executeOnCommit({ n: 5 }, { em }));
      await runOne();
      const outcomes = await Promise.allSettled([enqueue(db, (em) => retryTask(em, rootId)), enqueue(db, (em) => retryTask(em, rootId))]);
      const described = outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status));
      expect(described.filter((d) => d === 'fulfilled')).toHaveLength(1);
      expect(described.find((d) => d !== 'fulfilled')).toMatch(/attempt 2 of this task exists/);
      expect((await history(rootId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'FAILED'], [2, 'QUEUED']]);
    });
  });
});

describe(`The second shipped migration: CANCELLED (${engine})`, () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  const first = lambdaTasksMigrations[0].name;
  const rows = async (d: TestDatabase) =>
    (await d.sql<{ n: number; digest: string }>("select count(*)::int as n, md5(string_agg(t::text, ',' order by id)) as digest from task_record t"))[0];

  it('upgrades a table that holds rows of every status: no row changes, CANCELLED is allowed, unknown statuses still are not', async () => {
    db = await createTestOrm({ migrateTo: first });
    await db.sql(`insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout, enqueued_at)
      select gen_random_uuid(), 'old.task', jsonb_build_object('n', i), 'default',
             (array['QUEUED','RUNNING','SUCCESS','FAILED','RETRYING'])[1 + i % 5], gen_random_uuid(), 60, now() - (i || ' minutes')::interval
        from generate_series(1, 5000) as i`);
    await db.sql('update task_record set root_id = id');
    await expect(db.sql("update task_record set status = 'CANCELLED' where status = 'QUEUED'")).rejects.toThrow(/task_record_status_check/);
    const before = await rows(db);

    await migratorOf(db.orm).up();

    expect(await executedMigrationNames(db.orm)).toEqual(lambdaTasksMigrations.map((m) => m.name));
    expect(await rows(db)).toEqual(before);
    expect(before.n).toBe(5000);
    await db.sql("update task_record set status = 'CANCELLED' where id = (select id from task_record where status = 'QUEUED' limit 1)");
    await expect(db.sql("update task_record set status = 'PAUSED' where status = 'QUEUED'")).rejects.toThrow(/task_record_status_check/);
    // Down again (the third migration, then this one): the CANCELLED row becomes FAILED with a note, and the old constraint is back.
    await migratorOf(db.orm).down();
    await migratorOf(db.orm).down();
    expect((await db.sql<{ status: string; note: string }>("select status, note from task_record where note like '%was CANCELLED'")).map((r) => r.status)).toEqual(['FAILED']);
    await expect(db.sql("update task_record set status = 'CANCELLED' where status = 'QUEUED'")).rejects.toThrow(/task_record_status_check/);
  });
  // Its lock timeout, in and outside a transaction: test/runtime/migrations.test.ts.
});
