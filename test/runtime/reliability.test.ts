// Round-2 reliability faults (issue 23): each test fails on the code before the fix and ends with its
// accounting of committed tasks: none lost, none run twice.
import { createServer, type Server } from 'node:net';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { z } from 'zod';
import { configureLambdaTasks, DEFAULT_DISPATCH_TIMEOUT_MS } from '../../src/runtime/config';
import { IdempotencyKeyConflictError, LambdaTasksError, TaskValidationError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { TaskInvocation } from '../../src/runtime/invocation';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { POST_COMMIT_LIMITS } from '../../src/runtime/outbox';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { drainTasks } from '../../src/runtime/testing';
import { account } from '../support/accounting';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, deliverAll, enqueue, receiveMessages } from '../support/delivery';
import { lambdaContext, sqsRecord } from '../support/events';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues } from '../support/tasks-env';
import { waitFor } from '../support/wait-for';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';


const logRun = (em: EntityManager, taskId: string | null) => em.execute('insert into run_log (task_id) values (?)', [taskId]);

const alpha = lambdaTask({ name: 'rel.alpha', args: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
  await logRun(ctx.em as EntityManager, ctx.taskId);
  return `alpha ${n}`;
});
const beta = lambdaTask({ name: 'rel.beta', args: z.object({ text: z.string() }) }, async ({ text }, ctx) => {
  await logRun(ctx.em as EntityManager, ctx.taskId);
  return `beta ${text}`;
});
let failuresLeft = 0;
const flaky = lambdaTask(
  { name: 'rel.flaky', args: z.object({ message: z.string() }), retryOn: [Error], maxRetries: 1, retryDelay: 1 },
  async ({ message }, ctx) => {
    if (failuresLeft-- > 0) throw new Error(`${message}\u0000tail`); // U+0000 in an error message
    await logRun(ctx.em as EntityManager, ctx.taskId);
    return 'ok';
  },
);
const spin = lambdaTask({ name: 'rel.spin', args: z.object({ ms: z.number() }), softTimeout: 1, hardTimeout: 2 }, async ({ ms }, ctx) => {
  await logRun(ctx.em as EntityManager, ctx.taskId);
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // A synchronous loop: nothing can interrupt it.
  }
  return 'spun';
});
const singletonTask = lambdaTask(
  { name: 'rel.singleton', args: z.object({ n: z.number() }), singleton: true, retryOn: [Error], maxRetries: 1, retryDelay: 1 },
  async (_args, ctx) => {
    if (failuresLeft-- > 0) throw new Error('one real failure');
    await logRun(ctx.em as EntityManager, ctx.taskId);
    return 'ran';
  },
);
class Ignorable extends Error {}
const ignoring = lambdaTask({ name: 'rel.ignoring', args: z.object({}), ignoreErrors: [Ignorable] }, async () => {
  throw new Ignorable('ignore me');
});
const failing = lambdaTask({ name: 'rel.failing', args: z.object({}) }, async () => {
  throw new Error('plain failure');
});
const noEm = lambdaTask({ name: 'rel.noEm', args: z.object({ a: z.number(), b: z.number() }) }, async ({ a, b }) => a + b);
const usesEm = lambdaTask({ name: 'rel.usesEm', args: z.object({}) }, async (_args, ctx) => ctx.em.getMetadata());

const TASKS = [alpha, beta, flaky, spin, singletonTask, ignoring, failing];

describe(`Reliability round 2 (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const source = () => ({ fauxqs, queue });
  const worker = (concurrency = 1) => createHandler({ tasks: TASKS, orm: db.orm, concurrency });
  const statusOf = async (id: string) => (await getTask(db.em, id))?.status;

  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'reliability', poolMax: 4 }));
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    failuresLeft = 0;
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
  });
  afterEach(async () => {
    if (!queue) return; // the start-up failed: its own error is reported
    await fauxqs.drain(queue.url).then((m) => fauxqs.deleteMessages(queue.url, m));
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('1. a message that names another task than its row is refused, never run; the row runs from its own message', async () => {
    const [betaId] = await enqueue(db, (em) => [beta.executeOnCommit({ text: 'real' }, { em })]);
    const [real] = await receiveMessages(source(), 1);
    const forged = sqsRecord(JSON.stringify({ task_id: betaId.toUpperCase(), task_name: 'rel.alpha', kwargs: { n: 1 } }), queue.arn);
    const response = await worker()({ Records: [forged] }, lambdaContext());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: forged.messageId }] });
    expect(await statusOf(betaId)).toBe(TaskStatus.QUEUED);
    await deliver(source(), worker(), { messages: [real] });
    const done = await getTask(db.em, betaId);
    expect(done).toMatchObject({ status: TaskStatus.SUCCESS, result: 'beta real' });
    expect(await account(db, [betaId])).toEqual({ lost: [], twice: [] });
  });

  it('2. an idempotency key held by another task raises IdempotencyKeyConflictError naming both; the first task still runs once', async () => {
    const first = await enqueue(db, (em) => alpha.executeOnCommitOnce({ n: 2 }, { em, key: 'shared-key' }));
    const attempt = enqueue(db, (em) => beta.executeOnCommitOnce({ text: 'x' }, { em, key: 'shared-key' }));
    await expect(attempt).rejects.toThrow(IdempotencyKeyConflictError);
    await expect(attempt).rejects.toThrow(/"shared-key" belongs to task "rel.alpha", not to "rel.beta"/);
    expect(await enqueue(db, (em) => alpha.executeOnCommitOnce({ n: 2 }, { em, key: 'shared-key' }))).toBe(first);
    await deliverAll(source(), worker());
    expect(await statusOf(first)).toBe(TaskStatus.SUCCESS);
    expect(await account(db, [first])).toEqual({ lost: [], twice: [] });
  });

  it('3a. arguments PostgreSQL cannot store are refused at enqueue, naming the path, and the caller’s transaction still commits', async () => {
    const refused: string[] = [];
    const ids = await enqueue(db, (em) => {
      for (const text of ['nul\u0000inside', 'lone \uD800 high', 'lone \uDC00 low']) {
        try {
          beta.executeOnCommit({ text }, { em });
        } catch (error) {
          expect(error).toBeInstanceOf(TaskValidationError);
          refused.push((error as Error).message);
        }
      }
      return [beta.executeOnCommit({ text: 'fine' }, { em })];
    });
    expect(refused).toEqual([
      expect.stringMatching(/args\.text holds U\+0000 \(NUL\).* at index 3/),
      expect.stringMatching(/args\.text holds a lone surrogate U\+D800/),
      expect.stringMatching(/args\.text holds a lone surrogate U\+DC00/),
    ]);
    await deliverAll(source(), worker());
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
  });

  it('3b. arguments SQS refuses (U+FFFE, U+FFFF, astral, controls) are sent escaped and arrive intact', async () => {
    const text = 'a\uFFFE b\uFFFF c😀 d\u0001 e\u007F é 中';
    const [id] = await enqueue(db, (em) => [beta.executeOnCommit({ text }, { em })]);
    const [message] = await receiveMessages(source(), 1);
    expect(message.Body).toMatch(/^[\x20-\x7E]*$/); // pure ASCII on the wire
    await deliver(source(), worker(), { messages: [message] });
    expect(await getTask(db.em, id)).toMatchObject({ status: TaskStatus.SUCCESS, kwargs: { text }, result: `beta ${text}` });
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });

  it('3c. an error message with U+0000 is recorded (made storable) and the task still gets its retry', async () => {
    failuresLeft = 1;
    const [id] = await enqueue(db, (em) => [flaky.executeOnCommit({ message: 'broken' }, { em })]);
    await deliverAll(source(), worker(), { until: async () => (await db.sql<{ n: number }>('select count(*)::int as n from task_record where root_id = ? and status = ?', [id, 'SUCCESS']))[0].n === 1, waitMs: 10_000 });
    const first = await getTask(db.em, id);
    expect(first).toMatchObject({ status: TaskStatus.RETRYING });
    expect(first!.traceback).toContain('broken\uFFFDtail');
    const attempts = await db.sql<{ id: string; status: string }>('select id, status from task_record where root_id = ? order by attempt', [id]);
    expect(attempts.map((a) => a.status)).toEqual(['RETRYING', 'SUCCESS']);
    expect(await account(db, [attempts[1].id])).toEqual({ lost: [], twice: [] });
  });

  it('3d. 100,000 levels of nesting are a TaskValidationError, not a RangeError', () => {
    const nested = lambdaTask({ name: 'rel.nested', args: z.object({ tree: z.unknown() }) }, async () => null);
    let tree: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) tree = { child: tree };
    expect(() => nested.serialize({ tree })).toThrow(TaskValidationError);
    expect(() => nested.serialize({ tree })).toThrow(/nested more than 1000 levels deep/);
  });

  itOnPostgres('4a. with no free pool connection after the commit, transactional() resolves and the relay sends the rows', async () => {
    const monitor = new Client({ connectionString: db.url });
    await monitor.connect();
    const held: Promise<unknown>[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started = Date.now();
    let ids: string[];
    let elapsed: number;
    try {
      ids = await enqueue(db, async (em) => {
        await em.execute('select 1'); // this transaction holds one of the 4 connections
        // Three more transactions take the rest; a fourth waits for a connection and gets this one at commit.
        for (let i = 0; i < 4; i++) held.push(db.em.fork().transactional(async (t) => { await (t as EntityManager).execute('select 1'); await gate; }));
        // Watched over a connection of its own: the ORM's pool has none left.
        await waitFor(async () => (await monitor.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'")).rows[0].n >= 4);
        return [alpha.executeOnCommit({ n: 4 }, { em })];
      });
      elapsed = Date.now() - started;
    } finally {
      // Whatever happened, give the pool back (a failure here must not starve the tests after this one).
      release();
      await Promise.allSettled(held);
      await monitor.end();
    }
    expect(elapsed).toBeGreaterThan(POST_COMMIT_LIMITS.databaseMs - 50); // it did wait for a connection (setting dispatched_at) …
    expect(elapsed).toBeLessThan(20_000); // … but not for the pool's 60 s acquire timeout (the dispatch bound is 10 s), and it did not reject
    expect(await statusOf(ids[0])).toBe(TaskStatus.QUEUED);
    await deliverAll(source(), worker());
    if ((await statusOf(ids[0])) === TaskStatus.QUEUED) {
      await db.sql("update task_record set enqueued_at = now() - interval '2 minutes' where id = ?", [ids[0]]);
      await worker()({ lambdaTasks: 'maintenance', v: 1 }, lambdaContext());
      await deliverAll(source(), worker());
    }
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
  });

  it('4b. an SQS endpoint that accepts connections and never answers: the commit settles within the bound, the rows wait for the relay', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const names = ['AWS_ENDPOINT_URL_SQS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
    const previous = names.map((name) => process.env[name]);
    // Credentials and a region, so the library's own client really reaches the silent endpoint.
    Object.assign(process.env, { AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    try {
      // No sqsClient given: the library's own client, with its timeouts.
      configureLambdaTasks({ queues: { default: { url: `http://127.0.0.1:${port}/000000000000/silent` } } });
      const started = Date.now();
      // Raced against a timer, so a commit that hangs fails the assertions below (and the finally still cleans up).
      const ids = await Promise.race([
        enqueue(db, (em) => [alpha.executeOnCommit({ n: 5 }, { em })]),
        new Promise<string[]>((resolve) => setTimeout(() => resolve([]), 40_000)),
      ]);
      const elapsed = Date.now() - started;
      expect(ids).toHaveLength(1);
      expect(sockets.size).toBeGreaterThan(0); // the send did reach the endpoint and waited for it
      expect(elapsed).toBeGreaterThan(4_000);
      expect(elapsed).toBeLessThan(DEFAULT_DISPATCH_TIMEOUT_MS + 5_000); // the dispatch bound (the client alone would take 3 attempts of 5 s)
      expect(await getTask(db.em, ids[0])).toMatchObject({ status: TaskStatus.QUEUED, dispatchedAt: null });
      configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
      await db.sql("update task_record set enqueued_at = now() - interval '2 minutes' where id = ?", [ids[0]]);
      await worker()({ lambdaTasks: 'maintenance', v: 1 }, lambdaContext());
      await deliverAll(source(), worker());
      expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
    } finally {
      names.forEach((name, i) => (previous[i] === undefined ? delete process.env[name] : (process.env[name] = previous[i])));
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 90_000);

  itOnPostgres('5. singleton contention does not use up retries, and drainTasks ends while the lock is held', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', ['lambda-tasks:rel.singleton:']);
      const [id] = await enqueue(db, (em) => [singletonTask.executeOnCommit({ n: 1 }, { em })]);
      for (let busy = 0; busy < 2; busy++) {
        const [message] = await receiveMessages(source(), 1, { timeoutMs: 15_000 });
        await deliver(source(), worker(), { messages: [message] });
        expect(await getTask(db.em, id)).toMatchObject({ status: TaskStatus.QUEUED, attempt: 1 });
      }
      const drainedAt = Date.now();
      const outcomes = await drainTasks(db.orm.em.fork(), { taskNames: ['rel.singleton'] });
      expect(outcomes).toEqual([expect.objectContaining({ taskId: id, status: TaskStatus.QUEUED })]);
      expect(Date.now() - drainedAt).toBeLessThan(5_000);
      await holder.query('commit');
      failuresLeft = 1; // one real failure: it must still get its retry
      await deliverAll(source(), worker(), { until: async () => (await db.sql<{ n: number }>("select count(*)::int as n from task_record where root_id = ? and status = 'SUCCESS'", [id]))[0].n === 1, waitMs: 15_000 });
      const attempts = await db.sql<{ id: string; status: string; attempt: number }>('select id, status, attempt from task_record where root_id = ? order by attempt', [id]);
      expect(attempts.map((a) => [a.attempt, a.status])).toEqual([[1, 'RETRYING'], [2, 'SUCCESS']]);
      expect(await account(db, [attempts[1].id])).toEqual({ lost: [], twice: [] });
    } finally {
      await holder.end();
    }
  }, 90_000);

  it('6. the deadline check uses the row’s stored hard timeout, not the worker’s current configuration', async () => {
    const [id] = await enqueue(db, (em) => [alpha.executeOnCommit({ n: 6 }, { em })]); // hard_timeout 300 from the defaults
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client, defaultSoftTimeout: 4, defaultHardTimeout: 5 });
    const [message] = await receiveMessages(source(), 1);
    const { response } = await deliver(source(), worker(), { messages: [message], remainingMs: 20_000 }); // 5 + 10 fits, 300 + 10 does not
    expect(response.batchItemFailures).toEqual([]);
    expect(await getTask(db.em, id)).toMatchObject({ status: TaskStatus.QUEUED, hardTimeout: 300 });
    const [resent] = await receiveMessages(source(), 1);
    expect(resent.MessageAttributes?.lambda_tasks_resends?.StringValue).toBe('1');
    await deliver(source(), worker(), { messages: [resent] });
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });

  it('6b. a deadline re-send of a body without task_id names its row: the copy runs that row, no second row, nothing left QUEUED', async () => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify({ task_name: 'rel.alpha', kwargs: { n: 66 } }) }));
    const [message] = await receiveMessages(source(), 1);
    const { response } = await deliver(source(), worker(), { messages: [message], remainingMs: 20_000 }); // 300 + 10 s does not fit
    expect(response.batchItemFailures).toEqual([]);
    const [resent] = await receiveMessages(source(), 1);
    expect(JSON.parse(resent.Body!)).toMatchObject({ task_id: message.MessageId, task_name: 'rel.alpha', kwargs: { n: 66 } });
    await deliver(source(), worker(), { messages: [resent] });
    const rows = await db.sql<{ id: string; status: string }>("select id, status from task_record where task_name = 'rel.alpha' and kwargs->>'n' = '66'");
    expect(rows).toEqual([{ id: message.MessageId, status: 'SUCCESS' }]);
    expect(await account(db, [message.MessageId!])).toEqual({ lost: [], twice: [] });
  });

  it('7. a synchronous task past its hard timeout is rolled back and FAILED; its neighbour is neither blamed nor re-sent', async () => {
    const ids = await enqueue(db, (em) => [spin.executeOnCommit({ ms: 3_000 }, { em }), alpha.executeOnCommit({ n: 7 }, { em })]);
    const messages = await receiveMessages(source(), 2);
    const { response } = await deliver(source(), worker(2), { messages });
    expect(response.batchItemFailures).toEqual([]);
    const spun = await getTask(db.em, ids[0]);
    expect(spun).toMatchObject({ status: TaskStatus.FAILED, note: 'hard timeout' });
    expect(spun!.traceback).toContain('HardTimeLimitExceeded');
    expect(await db.sql('select 1 from run_log where task_id = ?', [ids[0]])).toEqual([]); // its writes were rolled back
    expect(await statusOf(ids[1])).toBe(TaskStatus.SUCCESS);
    expect(await fauxqs.count(queue.url)).toMatchObject({ total: 0 }); // nothing re-sent
    expect(await account(db, [ids[1]])).toEqual({ lost: [], twice: [] });
  });

  it('8. eager mode inside em.transactional(): every outcome is written and the commit resolves', async () => {
    configureLambdaTasks({ eager: true });
    failuresLeft = 1;
    const ids = await enqueue(db, (em) => [
      alpha.executeOnCommit({ n: 8 }, { em }),
      failing.executeOnCommit({}, { em }),
      ignoring.executeOnCommit({}, { em }),
      flaky.executeOnCommit({ message: 'once' }, { em }),
      singletonTask.executeOnCommit({ n: 8 }, { em }),
    ]);
    const statuses = await Promise.all(ids.map(statusOf));
    expect(statuses).toEqual([TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.SUCCESS, TaskStatus.RETRYING, TaskStatus.SUCCESS]);
    const retried = await db.sql<{ id: string; status: string }>('select id, status from task_record where root_id = ? and attempt = 2', [ids[3]]);
    expect(retried.map((r) => r.status)).toEqual(['SUCCESS']);
    expect(await db.sql("select id from task_record where status = 'RUNNING'")).toEqual([]);
    expect(await account(db, [ids[0], retried[0].id, ids[4]])).toEqual({ lost: [], twice: [] });
  });

  it('9a. a direct call runs without an EntityManager; reading ctx.em then names the fix', async () => {
    await expect(noEm({ a: 2, b: 3 })).resolves.toBe(5);
    await expect(usesEm({})).rejects.toThrow(LambdaTasksError);
    await expect(usesEm({})).rejects.toThrow(/rel\.usesEm\(\): ctx\.em: this direct call has no EntityManager: pass \{ em \}/);
  });

  it('9b. TaskInvocation.parse refuses unknown keys', () => {
    const payload = alpha.serialize({ n: 1 });
    expect(() => TaskInvocation.parse({ ...payload, extra: true })).toThrow(/Unrecognized key.*extra/);
    expect(() => TaskInvocation.parse({ ...payload, message: { ...payload.message, priority: 1 } })).toThrow(/priority/);
  });

  it('9g. a message without task_id for a task its worker cannot run gets a FAILED row with a note, not a silent DLQ entry', async () => {
    const elsewhere = lambdaTask({ name: 'rel.elsewhere', args: z.object({}), queue: 'reports' }, async () => 'never');
    const record = sqsRecord(JSON.stringify({ task_name: 'rel.elsewhere', kwargs: {} }), queue.arn);
    const response = await createHandler({ tasks: [elsewhere], orm: db.orm })({ Records: [record] }, lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    const row = await getTask(db.em, record.messageId);
    expect(row).toMatchObject({ status: TaskStatus.FAILED });
    expect(row!.note).toMatch(/can never run on this worker: queue: unknown queue "reports"/);
  });

  itOnPostgres('9e. a worker never creates its database: a mistyped name fails the batch instead', async () => {
    const missing = `lt_missing_${process.pid}`;
    const url = new URL(db.url!);
    url.pathname = `/${missing}`;
    const handler = createHandler({ tasks: [alpha], ormConfig: () => ({ ...db.orm.config.getAll(), clientUrl: url.toString(), dbName: missing }) as never });
    const record = sqsRecord(JSON.stringify({ task_name: 'rel.alpha', kwargs: { n: 1 } }), queue.arn);
    try {
      const response = await handler({ Records: [record] }, lambdaContext());
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
      expect(await db.sql('select 1 from pg_database where datname = ?', [missing])).toEqual([]);
    } finally {
      await handler.close();
      await db.sql(`drop database if exists "${missing}"`);
    }
  });

  it('9h. reconciliation finds the row of a dead letter whose task_id is upper-case', async () => {
    const [id] = await enqueue(db, (em) => [alpha.executeOnCommit({ n: 9 }, { em })]);
    await fauxqs.drain(queue.url).then((m) => fauxqs.deleteMessages(queue.url, m));
    await fauxqs.client.send(new (await import('@aws-sdk/client-sqs')).SendMessageCommand({
      QueueUrl: queue.dlqUrl,
      MessageBody: JSON.stringify({ task_id: id.toUpperCase(), task_name: 'rel.alpha', kwargs: { n: 9 } }),
    }));
    const result = await worker()({ lambdaTasks: 'maintenance', v: 1 }, lambdaContext());
    expect(result).toMatchObject({ maintenance: { reconcile: { ok: true, result: { resent: 1 } } } });
    await deliverAll(source(), worker());
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });
});
