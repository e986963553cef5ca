import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EntitySchema, MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { mockClient } from 'aws-sdk-client-mock';
import { z } from 'zod';
import { DEFAULT_DISPATCH_TIMEOUT_MS, resetLambdaTasksConfig } from '../../src/runtime/config';
import { TaskDispatchError } from '../../src/runtime/errors';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { getTask, waitForTask } from '../../src/runtime/polling';
import { TaskRecord, TaskStatus } from '../../src/runtime/record';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { enqueue } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { withLogs } from '../support/logs';
import { startSilentEndpoint, withSqsEndpointEnv } from '../support/silent-endpoint';
import { recordStatements } from '../support/statements';
import { configureForQueues, countCommands, drainTaskIds } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class Order {
  id!: number;
  item!: string;
}
const OrderSchema = new EntitySchema<Order>({ class: Order, tableName: 'orders', properties: { id: { type: 'integer', primary: true, autoincrement: true }, item: { type: 'string' } } });

const ping = lambdaTask({ name: 'dispatch.ping', args: z.object({ n: z.number() }) }, async ({ n }) => n);
const report = lambdaTask({ name: 'dispatch.report', args: z.object({ n: z.number() }), queue: 'reports' }, async ({ n }) => n);

describe(`Dispatch after commit (${engine})`, () => {
  withLogs(); // these tests read the library's log lines
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queues: Record<string, TestQueue>;
  let calls: Map<string, number>;
  const sent = () => drainTaskIds(fauxqs, queues.default.url);
  const fork = () => db.orm.em.fork() as EntityManager;
  const order = (item: string) => Object.assign(new Order(), { item });

  beforeAll(async () => {
    let queue: TestQueue;
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'default', entities: [OrderSchema] }));
    await db.sql('create table "orders" ("id" serial primary key, "item" text not null)');
    queues = { default: queue, reports: await fauxqs.createQueue('reports') };
    calls = countCommands(fauxqs.client);
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues(queues, { sqsClient: fauxqs.client });
    calls.clear();
  });
  afterEach(async () => {
    if (!queues) return; // the start-up failed: its own error is reported
    // Nothing may be left behind by a test.
    expect(await sent()).toEqual([]);
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('(a) a flush outside a transaction sends after its own commit, and sets dispatched_at', async () => {
    const em = fork();
    const id = ping.executeOnCommit({ n: 1 }, { em });
    expect(await fauxqs.count(queues.default.url)).toMatchObject({ total: 0 });
    await em.flush();
    expect(await sent()).toEqual([id]);
    const record = await getTask(em, id);
    expect(record).toMatchObject({ status: TaskStatus.QUEUED, taskName: 'dispatch.ping', kwargs: { n: 1 }, queue: 'default', attempt: 1, rootId: id, hardTimeout: 300 });
    expect(record!.dispatchedAt).toBeInstanceOf(Date);
  });

  it('(a2) a flush with nothing to do sends nothing', async () => {
    const em = fork();
    await em.flush();
    em.persist(order('no task'));
    await em.flush();
    expect(calls.get('SendMessageBatchCommand') ?? 0).toBe(0);
  });

  it('(b) transactional with an inner and the final flush: both sent once, after the commit', async () => {
    const ids: string[] = [];
    await fork().transactional(async (em) => {
      ids.push(ping.executeOnCommit({ n: 1 }, { em }));
      await em.flush();
      expect(await fauxqs.count(queues.default.url)).toMatchObject({ total: 0 });
      ids.push(ping.executeOnCommit({ n: 2 }, { em }));
    });
    expect((await sent()).sort()).toEqual(ids.sort());
  });

  it('(c) a committed nested savepoint: its task is sent at the root commit', async () => {
    const ids: string[] = [];
    await fork().transactional(async (outer) => {
      ids.push(ping.executeOnCommit({ n: 1 }, { em: outer }));
      await outer.transactional(async (inner) => {
        ids.push(ping.executeOnCommit({ n: 2 }, { em: inner }));
      });
      expect(await fauxqs.count(queues.default.url)).toMatchObject({ total: 0 });
    });
    expect((await sent()).sort()).toEqual(ids.sort());
  });

  it('(c2) a rolled-back savepoint: its task is never sent, the outer one is', async () => {
    let outerId = '';
    let innerId = '';
    await fork().transactional(async (outer) => {
      outerId = ping.executeOnCommit({ n: 1 }, { em: outer });
      // Flushed before the savepoint: an unflushed entity would be written (and rolled back) by the savepoint's flush.
      await outer.flush();
      await outer
        .transactional(async (inner) => {
          innerId = ping.executeOnCommit({ n: 2 }, { em: inner });
          await inner.flush();
          throw new Error('inner fails');
        })
        .catch(() => undefined);
    });
    expect(await sent()).toEqual([outerId]);
    expect(await getTask(fork(), innerId)).toBeNull();
  });

  itOnPostgres('after the commit it reads back only the rows a savepoint wrote; rows written at the root level are sent as they are', async () => {
    const readBack = (statements: string[]) => statements.filter((sql) => /^select "id" from "task_record" where "id" = any/.test(sql.trim()));
    let rootId = '';
    const root = await recordStatements(db.orm, () => fork().transactional(async (em) => {
      rootId = ping.executeOnCommit({ n: 1 }, { em });
    }));
    expect(readBack(root)).toEqual([]);
    let innerId = '';
    const nested = await recordStatements(db.orm, () => fork().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        innerId = ping.executeOnCommit({ n: 2 }, { em: inner });
      });
    }));
    expect(readBack(nested)).toHaveLength(1);
    expect((await sent()).sort()).toEqual([rootId, innerId].sort());
  });

  it('(c3) inner savepoint committed inside a middle savepoint that rolls back: only the outer task', async () => {
    let outerId = '';
    await fork().transactional(async (outer) => {
      outerId = ping.executeOnCommit({ n: 1 }, { em: outer });
      await outer.flush();
      await outer
        .transactional(async (middle) => {
          ping.executeOnCommit({ n: 2 }, { em: middle });
          await middle.transactional(async (inner) => {
            ping.executeOnCommit({ n: 3 }, { em: inner });
          });
          throw new Error('middle fails');
        })
        .catch(() => undefined);
    });
    expect(await sent()).toEqual([outerId]);
  });

  it('(d) begin / flush / commit', async () => {
    const em = fork();
    await em.begin();
    const id = ping.executeOnCommit({ n: 1 }, { em });
    await em.flush();
    expect(await fauxqs.count(queues.default.url)).toMatchObject({ total: 0 });
    await em.commit();
    expect(await sent()).toEqual([id]);
  });

  it('(d2) begin / flush / rollback sends nothing and keeps no row', async () => {
    const em = fork();
    await em.begin();
    const id = ping.executeOnCommit({ n: 1 }, { em });
    await em.flush();
    await em.rollback();
    expect(await getTask(fork(), id)).toBeNull();
  });

  it('(e) a transactional that throws after a flush sends nothing; the row and the app entity roll back together', async () => {
    let id = '';
    await expect(
      fork().transactional(async (em) => {
        em.persist(order('rolled back'));
        id = ping.executeOnCommit({ n: 1 }, { em });
        await em.flush();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await getTask(fork(), id)).toBeNull();
    expect(await fork().count(OrderSchema, { item: 'rolled back' })).toBe(0);
  });

  it('(e2) the outer transaction throws after a nested savepoint committed: nothing is sent', async () => {
    await expect(
      fork().transactional(async (outer) => {
        await outer.transactional(async (inner) => {
          ping.executeOnCommit({ n: 1 }, { em: inner });
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
  });

  it('commits the row with the app entity', async () => {
    const id = await enqueue(db, (em) => {
      em.persist(order('committed'));
      return ping.executeOnCommit({ n: 1 }, { em });
    });
    expect(await sent()).toEqual([id]);
    expect(await fork().count(OrderSchema, { item: 'committed' })).toBe(1);
  });

  it('without em inside em.transactional(cb) joins that transaction (not the request fork)', async () => {
    let rolledBack = '';
    await expect(
      fork().transactional(async () => {
        rolledBack = ping.executeOnCommit({ n: 1 });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await getTask(fork(), rolledBack)).toBeNull();
    let committed = '';
    await fork().transactional(async () => {
      committed = ping.executeOnCommit({ n: 2 });
    });
    expect(await sent()).toEqual([committed]);
  });

  itOnPostgres('(f) two concurrent transactions, one throwing: only the committed one is sent', async () => {
    let good = '';
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const failing = fork().transactional(async (em) => {
      ping.executeOnCommit({ n: 1 }, { em });
      await em.flush();
      await gate;
      throw new Error('second fails');
    });
    const succeeding = fork().transactional(async (em) => {
      good = ping.executeOnCommit({ n: 2 }, { em });
      await em.flush();
      release();
    });
    await expect(failing).rejects.toThrow('second fails');
    await succeeding;
    expect(await sent()).toEqual([good]);
  });

  it('sends 25 tasks (20 default, 5 reports) in 3 SendMessageBatch calls to the right queues', async () => {
    const [ids, reportIds] = await enqueue(db, (em) => [
      Array.from({ length: 20 }, (_, n) => ping.executeOnCommit({ n }, { em })),
      Array.from({ length: 5 }, (_, n) => report.executeOnCommit({ n }, { em })),
    ]);
    expect(calls.get('SendMessageBatchCommand')).toBe(3);
    expect((await sent()).sort()).toEqual([...ids].sort());
    expect((await drainTaskIds(fauxqs, queues.reports.url)).sort()).toEqual([...reportIds].sort());
    const undispatched = await db.sql<{ n: string }>('select count(*) as n from task_record where id in (?) and dispatched_at is null', [[...ids, ...reportIds]]);
    expect(Number(undispatched[0].n)).toBe(0);
  });

  it('passes the delay as DelaySeconds and stores run_after', async () => {
    const em = fork();
    const id = ping.executeOnCommit({ n: 1 }, { em, delay: 60 });
    await em.flush();
    expect(await fauxqs.count(queues.default.url)).toMatchObject({ visible: 0, delayed: 1 });
    const record = await getTask(em, id);
    expect(record!.runAfter.getTime() - record!.enqueuedAt.getTime()).toBeGreaterThanOrEqual(59_000);
    await db.sql('delete from task_record where id = ?', [id]);
    // leave the delayed message: purge by recreating the queue is not needed, afterEach only drains visible ones
  });

  it('refuses an oversized message at enqueue, writing nothing', async () => {
    const em = fork();
    const big = lambdaTask({ name: 'dispatch.big', args: z.object({ blob: z.string() }) }, async () => null);
    expect(() => big.executeOnCommit({ blob: 'x'.repeat(1_100_000) }, { em })).toThrow(/SQS takes at most 1048576/);
    expect(em.getUnitOfWork().getPersistStack().size).toBe(0);
  });

  it('a failed send leaves the rows QUEUED and undispatched, logged; the commit still resolves', async () => {
    configureForQueues({ ...queues, default: { ...queues.default, url: `${fauxqs.endpoint}/000000000000/missing-queue` } }, { sqsClient: fauxqs.client });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const id = await enqueue(db, (em) => ping.executeOnCommit({ n: 1 }, { em }));
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.QUEUED, dispatchedAt: null });
    expect(errors).toHaveBeenCalledWith(expect.stringContaining(id));
    errors.mockRestore();
  });

  it("with onDispatchError 'throw', the commit rejects with TaskDispatchError (committed: true)", async () => {
    configureForQueues({ ...queues, default: { ...queues.default, url: `${fauxqs.endpoint}/000000000000/missing-queue` } }, { sqsClient: fauxqs.client, onDispatchError: 'throw' });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let id = '';
    const error = await fork()
      .transactional(async (em) => {
        em.persist(order('kept despite dispatch error'));
        id = ping.executeOnCommit({ n: 1 }, { em });
      })
      .catch((e: unknown) => e);
    errors.mockRestore();
    expect(error).toBeInstanceOf(TaskDispatchError);
    expect(error).toMatchObject({ taskIds: [id], committed: true });
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED, dispatchedAt: null });
    expect(await fork().count(OrderSchema, { item: 'kept despite dispatch error' })).toBe(1);
  });

  it('handles a per-entry Failed result: only the failed entry stays undispatched', async () => {
    const client = new SQSClient({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.slice(1).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: 'x' })),
      Failed: [{ Id: input.Entries[0].Id, Code: 'InternalError', SenderFault: false, Message: 'injected' }],
    }));
    configureForQueues(queues, { sqsClient: client, onDispatchError: 'throw' });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const ids: string[] = [];
    const error = await fork()
      .transactional(async (em) => {
        ids.push(ping.executeOnCommit({ n: 1 }, { em }), ping.executeOnCommit({ n: 2 }, { em }));
      })
      .catch((e: unknown) => e);
    errors.mockRestore();
    mock.restore();
    const failedId = (mock.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries ?? [])[0]?.Id ?? ids[0];
    expect(error).toMatchObject({ taskIds: [failedId] });
    const rows = await db.sql<{ id: string; dispatched: boolean }>('select id, dispatched_at is not null as dispatched from task_record where id in (?)', [ids]);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.dispatched]))).toEqual(Object.fromEntries(ids.map((id) => [id, id !== failedId])));
  });

  describe('the dispatch bound (dispatchTimeoutMs) on an SQS endpoint that accepts connections and never answers', () => {
    /** Generous for a busy machine: the bound plus 5 s. */
    const SLACK_MS = 5_000;
    afterEach(() => {
      delete process.env.LAMBDA_TASKS_DISPATCH_TIMEOUT_MS;
      resetLambdaTasksConfig();
    });

    /** Commits one task with the given setup, timing the caller's commit from its start to its settling. */
    async function commitAgainst(hungUrl: string): Promise<{ id: string; elapsed: number; outcome: unknown }> {
      let id = '';
      const started = Date.now();
      const outcome = await fork()
        .transactional(async (em) => {
          em.persist(order('kept whatever the dispatch does'));
          id = ping.executeOnCommit({ n: 1 }, { em });
        })
        .then(() => 'resolved', (error: unknown) => error);
      const elapsed = Date.now() - started;
      process.stdout.write(`dispatch bound: the commit settled after ${elapsed} ms (endpoint ${hungUrl})\n`);
      return { id, elapsed, outcome };
    }

    it('the library’s own client, the default bound: the commit resolves within 10 s, the row waits for the relay', async () => {
      const hung = await startSilentEndpoint();
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        await withSqsEndpointEnv(hung.url, async () => {
          resetLambdaTasksConfig();
          configureForQueues({ ...queues, default: { ...queues.default, url: `${hung.url}/000000000000/hung` } });
          const { id, elapsed, outcome } = await commitAgainst(hung.url);
          expect(outcome).toBe('resolved');
          expect(hung.sockets.size).toBeGreaterThan(0); // the send reached the endpoint and waited for it
          expect(elapsed).toBeLessThan(DEFAULT_DISPATCH_TIMEOUT_MS + SLACK_MS);
          expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED, dispatchedAt: null });
          expect(errors).toHaveBeenCalledWith(expect.stringContaining(id));
        });
      } finally {
        errors.mockRestore();
        await hung.close();
        resetLambdaTasksConfig();
      }
    }, 60_000);

    it.each([
      ['the option', 'log'],
      ['LAMBDA_TASKS_DISPATCH_TIMEOUT_MS', 'throw'],
    ] as const)('a client with no timeouts of its own, the bound from %s, onDispatchError %s: settles within it', async (from, onDispatchError) => {
      const bound = 1_500;
      const hung = await startSilentEndpoint();
      // No request timeout, no retry limit worth the name: only the outbox's abort ends its send.
      const client = new SQSClient({ endpoint: hung.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 5 });
      if (from !== 'the option') process.env.LAMBDA_TASKS_DISPATCH_TIMEOUT_MS = String(bound);
      configureForQueues(
        { ...queues, default: { ...queues.default, url: `${hung.url}/000000000000/hung` } },
        { sqsClient: client, onDispatchError, ...(from === 'the option' ? { dispatchTimeoutMs: bound } : {}) },
      );
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const { id, elapsed, outcome } = await commitAgainst(hung.url);
        if (onDispatchError === 'throw') {
          expect(outcome).toBeInstanceOf(TaskDispatchError);
          expect(outcome).toMatchObject({ taskIds: [id], committed: true });
        } else {
          expect(outcome).toBe('resolved');
        }
        expect(hung.sockets.size).toBeGreaterThan(0);
        expect(elapsed).toBeLessThan(bound + SLACK_MS);
        expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED, dispatchedAt: null });
        expect(await fork().count(OrderSchema, { item: 'kept whatever the dispatch does' })).toBeGreaterThan(0);
      } finally {
        errors.mockRestore();
        client.destroy();
        await hung.close();
      }
    }, 60_000);
  });

  it('uses the SDK default chain when no client is given (AWS_ENDPOINT_URL_SQS)', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL_SQS: fauxqs.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    try {
      resetLambdaTasksConfig();
      configureForQueues(queues);
      const em = fork();
      const errors = jest.spyOn(console, 'error');
      const id = ping.executeOnCommit({ n: 1 }, { em });
      await em.flush();
      expect(errors).not.toHaveBeenCalled();
      expect(await sent()).toEqual([id]);
    } finally {
      process.env = saved;
      resetLambdaTasksConfig();
    }
  });

  it('without withLambdaTasks, says so', async () => {
    // An app's own ORM, its config not wrapped: it knows neither TaskRecord nor the dispatch subscriber (never connected: the check comes first).
    const plain = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: 'postgres://nobody@127.0.0.1:1/unused', entities: [OrderSchema], connect: false });
    try {
      expect(() => ping.executeOnCommit({ n: 1 }, { em: plain.em.fork() })).toThrow(/wrap your config with withLambdaTasks/);
    } finally {
      await plain.close(true);
    }
    // One that knows TaskRecord but has lost the subscriber.
    const emWithoutSubscriber = Object.create(fork()) as EntityManager;
    emWithoutSubscriber.getEventManager = () => ({ getSubscribers: () => new Set() }) as never;
    expect(() => ping.executeOnCommit({ n: 1 }, { em: emWithoutSubscriber })).toThrow(/wrap your config with withLambdaTasks/);
  });

  describe('executeOnCommitOnce()', () => {
    it('returns the first id for the same key and sends once', async () => {
      const first = await fork().transactional((em) => ping.executeOnCommitOnce({ n: 1 }, { em, key: 'once-1' }));
      const second = await fork().transactional((em) => ping.executeOnCommitOnce({ n: 2 }, { em, key: 'once-1' }));
      expect(second).toBe(first);
      expect(await sent()).toEqual([first]);
    });

    it('outside a transaction, sends at once', async () => {
      const id = await ping.executeOnCommitOnce({ n: 1 }, { em: fork(), key: 'once-2' });
      expect(await sent()).toEqual([id]);
    });

    it('inside a transaction that rolls back, sends nothing and frees the key', async () => {
      await expect(
        fork().transactional(async (em) => {
          await ping.executeOnCommitOnce({ n: 1 }, { em, key: 'once-3' });
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      const id = await ping.executeOnCommitOnce({ n: 1 }, { em: fork(), key: 'once-3' });
      expect(await sent()).toEqual([id]);
    });

    it('requires a key', async () => {
      await expect(ping.executeOnCommitOnce({ n: 1 }, { em: fork(), key: '' })).rejects.toThrow(/needs \{ key \}/);
    });

    itOnPostgres('two concurrent transactions with the same key produce one row and one message', async () => {
      const results = await Promise.all(
        [1, 2].map((n) =>
          fork().transactional(async (em) => {
            const id = await ping.executeOnCommitOnce({ n }, { em, key: 'once-concurrent' });
            await new Promise((r) => setTimeout(r, 50));
            return id;
          }),
        ),
      );
      expect(results[0]).toBe(results[1]);
      const rows = await db.sql<{ n: string }>("select count(*) as n from task_record where idempotency_key = 'once-concurrent'");
      expect(Number(rows[0].n)).toBe(1);
      expect(await sent()).toEqual([results[0]]);
    });
  });

  describe('Polling helpers', () => {
    it('getTask reads through a fresh fork although the caller’s identity map holds the QUEUED copy', async () => {
      const em = fork();
      const id = ping.executeOnCommit({ n: 1 }, { em });
      await em.flush();
      await sent();
      await db.sql("update task_record set status = 'SUCCESS', result = '2'::jsonb, end_time = now() where id = ?", [id]);
      expect(em.getUnitOfWork().getById<TaskRecord>(TaskRecord.name, id)?.status).toBe(TaskStatus.QUEUED);
      expect(await getTask(em, id)).toMatchObject({ status: TaskStatus.SUCCESS, result: 2 });
      expect(await waitForTask(em, id, { timeoutMs: 1000 })).toMatchObject({ status: TaskStatus.SUCCESS });
    });

    it('waitForTask times out naming the last status', async () => {
      const em = fork();
      const id = ping.executeOnCommit({ n: 1 }, { em });
      await em.flush();
      await sent();
      await expect(waitForTask(em, id, { timeoutMs: 200, intervalMs: 50 })).rejects.toThrow(`waitForTask: task ${id} is QUEUED after 200 ms`);
    });
  });
});
