import { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { configureLambdaTasks, resetLambdaTasksConfig } from '../../src/runtime/config';
import { ConfigurationError } from '../../src/runtime/errors';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { queryRows } from '../../src/runtime/orm';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { drainTasks, resetTaskRegistry } from '../../src/runtime/testing';
import { createTestOrm, engine, type TestDatabase } from '../support/database';
import { enqueue } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, drainTaskIds } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class Greeting {
  id!: number;
  text!: string;
}
const GreetingSchema = new EntitySchema<Greeting>({ class: Greeting, tableName: 'greeting', properties: { id: { type: 'integer', primary: true, autoincrement: true }, text: { type: 'string' } } });

const log: string[] = [];
const sayHello = lambdaTask({ name: 'eager.sayHello', args: z.object({ name: z.string() }) }, async ({ name }, ctx) => {
  ctx.em.persist(Object.assign(new Greeting(), { text: `hello ${name}` }));
  await ctx.em.flush();
  log.push(`ran ${name}`);
  return `hello ${name}`;
});
const fails = lambdaTask({ name: 'eager.fails', args: z.object({}) }, async () => {
  throw new Error('eager failure');
});
const chain = lambdaTask({ name: 'eager.chain', args: z.object({ name: z.string() }) }, async ({ name }, ctx) => {
  sayHello.executeOnCommit({ name: `${name} (chained)` }, { em: ctx.em });
  return 'chained';
});
const elsewhere = lambdaTask({ name: 'eager.elsewhere', args: z.object({}), queue: 'reports' }, async () => null);

describe(`Eager mode (${engine})`, () => {
  let db: TestDatabase;
  const fork = () => db.orm.em.fork() as EntityManager;
  const greetings = (text: string) => fork().count(GreetingSchema, { text });

  beforeAll(async () => {
    db = await createTestOrm({ entities: [GreetingSchema] });
    await db.sql('create table "greeting" ("id" serial primary key, "text" text not null)');
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    log.length = 0;
    configureLambdaTasks({ eager: true });
  });
  afterAll(async () => {
    await db?.close();
    resetLambdaTasksConfig();
  });

  it('runs a task before the flush outside a transaction resolves — on PGlite’s single connection too', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const em = fork();
    const id = sayHello.executeOnCommit({ name: 'Alice' }, { em });
    const started = Date.now();
    await em.flush();
    const elapsed = Date.now() - started;
    info.mockRestore();
    expect(log).toEqual(['ran Alice']);
    expect(await getTask(em, id)).toMatchObject({ status: TaskStatus.SUCCESS, result: 'hello Alice', messageId: null });
    expect(await greetings('hello Alice')).toBe(1);
    expect(elapsed).toBeLessThan(10_000); // no deadlock on the one connection (a deadlock would wait for the pool's 60 s)
  });

  it('runs after the commit of a transaction, not before, and needs no queue URLs', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    let id = '';
    await fork().transactional(async (em) => {
      id = sayHello.executeOnCommit({ name: 'Bob' }, { em });
      await em.flush();
      expect(log).toEqual([]);
    });
    info.mockRestore();
    expect(log).toEqual(['ran Bob']);
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.SUCCESS });
  });

  it('stores and runs arguments with a semicolon (PGlite’s dialect once took it for a second statement)', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const em = fork();
    const id = sayHello.executeOnCommit({ name: "O'Brien; DROP TABLE greeting; --" }, { em });
    await em.flush();
    info.mockRestore();
    expect(await getTask(em, id)).toMatchObject({ status: TaskStatus.SUCCESS, kwargs: { name: "O'Brien; DROP TABLE greeting; --" } });
    // Counted with a bound parameter: MikroORM inlines values, and on PGlite a ';' in them breaks the app's own query too.
    const counted = await queryRows<{ n: number }>(db.orm.em, 'select count(*)::int as n from greeting where text = ?', ["hello O'Brien; DROP TABLE greeting; --"]);
    expect(counted[0].n).toBe(1);
  });

  it('ignores the delay', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const em = fork();
    sayHello.executeOnCommit({ name: 'Later' }, { em, delay: 600 });
    await em.flush();
    info.mockRestore();
    expect(log).toEqual(['ran Later']);
  });

  it('runs nothing for a rolled-back transaction', async () => {
    await expect(
      fork().transactional(async (em) => {
        sayHello.executeOnCommit({ name: 'Nobody' }, { em });
        await em.flush();
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(log).toEqual([]);
  });

  it('records FAILED without throwing', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const em = fork();
    const id = fails.executeOnCommit({}, { em });
    await expect(em.flush()).resolves.toBeUndefined();
    info.mockRestore();
    expect(await getTask(em, id)).toMatchObject({ status: TaskStatus.FAILED });
  });

  it('with eagerPropagate, rethrows the task’s error from the commit (which happened)', async () => {
    configureLambdaTasks({ eager: true, eagerPropagate: true });
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    let id = '';
    await expect(
      fork().transactional(async (em) => {
        em.persist(Object.assign(new Greeting(), { text: 'committed before the task failed' }));
        id = fails.executeOnCommit({}, { em });
      }),
    ).rejects.toThrow('eager failure');
    info.mockRestore();
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.FAILED });
    expect(await greetings('committed before the task failed')).toBe(1);
  });

  it('runs tasks that tasks enqueue, without recursing forever', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const em = fork();
    chain.executeOnCommit({ name: 'Carol' }, { em });
    await em.flush();
    info.mockRestore();
    expect(log).toEqual(['ran Carol (chained)']);
  });

  it('still refuses unknown queue names', () => {
    expect(() => elsewhere.executeOnCommit({}, { em: fork() })).toThrow(ConfigurationError);
  });
});

describe(`Function: drainTasks() (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const fork = () => db.orm.em.fork() as EntityManager;

  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'drain', entities: [GreetingSchema] }));
    await db.sql('create table "greeting" ("id" serial primary key, "text" text not null)');
  }, START_TIMEOUT_MS);
  beforeEach(() => configureForQueues({ default: queue }, { sqsClient: fauxqs.client }));
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('runs every QUEUED task now, oldest first, including what they enqueue, and returns the outcomes', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    log.length = 0;
    const ids = await enqueue(db, async (em) => {
      const first = sayHello.executeOnCommit({ name: 'one' }, { em });
      await em.flush();
      const second = fails.executeOnCommit({}, { em });
      await em.flush();
      return [first, second, chain.executeOnCommit({ name: 'two' }, { em })];
    });
    expect((await drainTaskIds(fauxqs, queue.url)).sort()).toEqual([...ids].sort()); // sent as usual
    const outcomes = await drainTasks(fork());
    info.mockRestore();
    expect(outcomes.map((o) => [o.taskName, o.status])).toEqual([
      ['eager.sayHello', 'SUCCESS'],
      ['eager.fails', 'FAILED'],
      ['eager.chain', 'SUCCESS'],
      ['eager.sayHello', 'SUCCESS'],
    ]);
    expect(outcomes[1].error?.message).toBe('eager failure');
    expect(log).toEqual(['ran one', 'ran two (chained)']);
    expect(await drainTasks(fork())).toEqual([]);
    await drainTaskIds(fauxqs, queue.url);
  });
});

afterAll(() => resetTaskRegistry());
