import type { Message } from '@aws-sdk/client-sqs';
import { EntitySchema, type EntityManager as CoreEntityManager } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { createHandler, type TaskHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, enqueue, receiveMessages } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

// A hard timeout frees the connection of the run it abandons (DESIGN, Revision 5): it needs no other pooled
// connection to do so (the task may hold the pool's spare itself), and it never hands on a connection that
// still carries the abandoned run's savepoints (MikroORM 7 would send their late `rollback to savepoint` into
// the transaction of whichever task gets that connection next).

class Mark {
  id!: number;
  label!: string;
}
const MarkSchema = new EntitySchema<Mark>({ class: Mark, tableName: 'mark', properties: { id: { type: 'integer', primary: true, autoincrement: true }, label: { type: 'string' } } });
const mark = async (em: CoreEntityManager, label: string) => {
  em.persist(Object.assign(new Mark(), { label }));
  await em.flush();
};

/** A promise with its resolve function, to let the test and a task wait for each other's states. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

let abandoned = {
  inSavepoint: signal(),
  wake: signal(),
  /** What the abandoned run's late statements met (errors or 'ok'), once they are all done. */
  late: signal<string[]>(),
};
let innocentInTransaction = signal();

const stuckInSavepoint = lambdaTask(
  { name: 'hardConnections.stuckInSavepoint', args: z.object({ ending: z.enum(['throw', 'return']) }), hardTimeout: 2 },
  async ({ ending }, ctx) => {
    const seen: string[] = [];
    await mark(ctx.em, 'abandoned outer');
    try {
      await ctx.em.transactional(async (savepoint) => {
        await mark(savepoint, 'abandoned savepoint');
        abandoned.inSavepoint.resolve();
        await abandoned.wake.promise; // still here when the hard timeout fires
        if (ending === 'throw') throw new Error('the abandoned run gives up'); // → rollback to savepoint
        await mark(savepoint, 'abandoned savepoint (late)'); // → release savepoint
      });
      seen.push('savepoint ended');
    } catch (error) {
      seen.push(`savepoint: ${(error as Error).message}`);
    }
    try {
      await mark(ctx.em, 'abandoned outer (late)');
      seen.push('outer write');
    } catch (error) {
      seen.push(`outer: ${(error as Error).message}`);
    }
    abandoned.late.resolve(seen);
    return 'too late';
  },
);
const innocent = lambdaTask({ name: 'hardConnections.innocent', args: z.object({ label: z.string() }), hardTimeout: 30 }, async ({ label }, ctx) => {
  await mark(ctx.em, `${label} first`);
  innocentInTransaction.resolve();
  await abandoned.late.promise; // the abandoned run's late statements are sent while this transaction is open
  await mark(ctx.em, `${label} second`);
  return label;
});

let spare = { held: signal<{ ownPid: number; sparePid: number }>(), release: signal() };
const holdsSpare = lambdaTask(
  { name: 'hardConnections.holdsSpare', args: z.object({ hang: z.enum(['js', 'sql']) }), hardTimeout: 2 },
  async ({ hang }, ctx) => {
    const em = ctx.em as EntityManager;
    await mark(em, 'holds spare');
    const [{ pid: ownPid }] = await em.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
    // The pool's spare connection (pool max = concurrency + 1), taken by the task itself: a second transaction.
    const other = (em.fork() as EntityManager).transactional(async (fork) => {
      const [{ pid: sparePid }] = await (fork as EntityManager).execute<{ pid: number }[]>('select pg_backend_pid() as pid');
      spare.held.resolve({ ownPid, sparePid });
      await spare.release.promise;
    });
    await spare.held.promise;
    if (hang === 'sql') await em.execute('select pg_sleep(6)');
    else await spare.release.promise;
    await other;
    return 'too late';
  },
);
const quick = lambdaTask({ name: 'hardConnections.quick', args: z.object({ label: z.string() }) }, async ({ label }, ctx) => {
  await mark(ctx.em, label);
  return label;
});

describe(`A hard timeout frees its connection (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const tasks = [stuckInSavepoint, innocent, holdsSpare, quick];
  const source = () => ({ fauxqs, queue });
  const fork = () => db.orm.em.fork() as EntityManager;
  const marks = async (prefix: string) => (await db.sql<{ label: string }>('select label from mark where label like ? order by id', [`${prefix}%`])).map((r) => r.label);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const workers: TaskHandler[] = [];

  /** A worker as Lambda runs it: its own ORM from the config, pool max = concurrency + 1 (on PGlite the test's ORM: one connection). */
  function worker(concurrency: number): TaskHandler {
    const handler = engine === 'postgres' ? createHandler({ tasks, ormConfig: () => db.orm.config.getAll() as never, concurrency }) : createHandler({ tasks, orm: db.orm, concurrency });
    workers.push(handler);
    return handler;
  }
  /** The messages of these task ids, in this order. */
  async function messagesOf(ids: string[]): Promise<Message[]> {
    const messages = await receiveMessages(source(), ids.length);
    return ids.map((id) => messages.find((m) => JSON.parse(m.Body!).task_id === id)!);
  }
  /** Polls the row until it has left RUNNING (or `withinMs` have passed) and returns its record. */
  async function settled(id: string, withinMs: number) {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const record = await getTask(fork(), id);
      if (record && record.status !== TaskStatus.RUNNING && record.status !== TaskStatus.QUEUED) return record;
      if (Date.now() > deadline) return record;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  /** Seconds from the row's hard timeout (start + hardTimeout) to its end, by the database clock. */
  async function lateness(id: string, hardTimeout: number): Promise<number> {
    const [row] = await db.sql<{ s: number }>('select extract(epoch from end_time - start_time)::float8 as s from task_record where id = ?', [id]);
    return row.s - hardTimeout;
  }

  quietLogs();
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'hard-connections', entities: [MarkSchema] }));
    await db.sql('create table "mark" ("id" serial primary key, "label" text not null)');
    process.on('unhandledRejection', onUnhandled);
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    abandoned = { inSavepoint: signal(), wake: signal(), late: signal() };
    innocentInTransaction = signal();
    spare = { held: signal(), release: signal() };
  });
  afterEach(() => {
    // Whatever a failed test left hanging ends now, so the workers can close (nothing to end after a failed start).
    abandoned?.wake.resolve();
    abandoned?.late.resolve(['(test ended)']);
    spare?.release.resolve();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await Promise.all(workers.map((w) => w.close()));
    await stopWorkerEnvironment({ db, fauxqs });
  });

  it.each(['throw', 'return'] as const)(
    'a run abandoned inside a savepoint (which then ends by %s) sends its late statements into no one’s transaction: the next task on that connection succeeds',
    async (ending) => {
      const handler = worker(1);
      const [stuck, next] = await enqueue(db, (em) => [stuckInSavepoint.executeOnCommit({ ending }, { em }), innocent.executeOnCommit({ label: `innocent ${ending}` }, { em })]);
      // A batch of two at concurrency 1: the stuck run is stopped at its hard timeout; the rest of the batch is re-sent.
      await deliver(source(), handler, { messages: await messagesOf([stuck, next]) });
      expect(await getTask(fork(), stuck)).toMatchObject({ status: TaskStatus.FAILED, note: 'hard timeout' });
      expect(await getTask(fork(), next)).toMatchObject({ status: TaskStatus.QUEUED });
      // The innocent task runs on the same worker (its pool); while its transaction is open, the abandoned run wakes up.
      const delivering = deliver(source(), handler, { messages: await messagesOf([next]) });
      await innocentInTransaction.promise;
      abandoned.wake.resolve();
      const late = await abandoned.late.promise;
      await delivering;
      const record = await getTask(fork(), next);
      expect({ status: record!.status, traceback: record!.traceback }).toEqual({ status: TaskStatus.SUCCESS, traceback: null });
      expect(await marks(`innocent ${ending}`)).toEqual([`innocent ${ending} first`, `innocent ${ending} second`]);
      // None of the abandoned run's statements committed, and none of them was accepted anywhere.
      expect(await marks('abandoned')).toEqual([]);
      expect(late).not.toContain('outer write');
      expect(late).not.toContain('savepoint ended');
      expect(unhandled).toEqual([]);
    },
  );

  itOnPostgres.each(['js', 'sql'] as const)(
    'a task that holds the pool’s spare connection (hanging in %s) is still stopped at its hard timeout, and the pool serves the next task',
    async (hang) => {
      const handler = worker(1);
      const id = await enqueue(db, (em) => holdsSpare.executeOnCommit({ hang }, { em }));
      const delivering = deliver(source(), handler, { messages: await messagesOf([id]) });
      let stopped = false;
      try {
        const { ownPid, sparePid } = await spare.held.promise;
        expect(sparePid).not.toBe(ownPid); // both of the worker's connections are the task's now
        // MEASURE_MS=<ms> waits that long and prints how late the FAILED came (the figures in the closing note).
        const record = await settled(id, Number(process.env.MEASURE_MS ?? 6_000));
        expect(record).toMatchObject({ status: TaskStatus.FAILED, note: 'hard timeout' });
        expect(record!.traceback).toMatch(/^HardTimeLimitExceeded/);
        if (process.env.MEASURE_MS) process.stdout.write(`MEASURE ${hang}: FAILED ${(await lateness(id, 2)).toFixed(3)} s after the hard timeout\n`);
        expect(await lateness(id, 2)).toBeLessThan(2);
        stopped = true;
      } finally {
        if (!stopped) spare.release.resolve(); // not stopped: let the run end, so that the worker answers and can close
        await delivering;
      }
      // The spare is still held by the abandoned run: the worker's other connection serves the next task.
      const nextId = await enqueue(db, (em) => quick.executeOnCommit({ label: `after ${hang}` }, { em }));
      await deliver(source(), handler, { messages: await messagesOf([nextId]) });
      expect(await getTask(fork(), nextId)).toMatchObject({ status: TaskStatus.SUCCESS, result: `after ${hang}` });
      expect(await marks('holds spare')).toEqual([]);
      const sleeping = await db.sql<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'select pg_sleep%' and state = 'active' and pid <> pg_backend_pid()");
      expect(sleeping[0].n).toBe(0);
      spare.release.resolve();
      expect(unhandled).toEqual([]);
    },
  );
});
