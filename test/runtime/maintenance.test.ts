import { SendMessageBatchCommand, SendMessageCommand, SQSClient, type SendMessageBatchCommandInput, type SendMessageBatchCommandOutput } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { mockClient } from 'aws-sdk-client-mock';
import { z } from 'zod';
import { reconcileDeadLetters } from '../../src/runtime/dead-letters';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { runMaintenance } from '../../src/runtime/maintenance';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { claim } from '../../src/runtime/records/claim';
import { relayQueuedTasks } from '../../src/runtime/relay';
import { sweepLostTasks } from '../../src/runtime/sweep';
import { account } from '../support/accounting';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, deliverAll, enqueue } from '../support/delivery';
import { lambdaContext } from '../support/events';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

const work = lambdaTask({ name: 'maintenance.work', args: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
  await (ctx.em as EntityManager).execute('insert into run_log (task_id) values (?)', [ctx.taskId]);
  return n;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`Maintenance: relay, sweep, DLQ reconciliation (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const handler = () => createHandler({ tasks: [work], orm: db.orm });
  const fork = () => db.orm.em.fork() as EntityManager;

  /** Plays the Lambda event source until the queue is empty (waiting out delays up to `waitMs`). */
  const runWorker = (waitMs = 0) => deliverAll({ fauxqs, queue }, handler(), { waitMs });

  /** Enqueues `count` work tasks in one transaction; returns their ids. */
  const enqueueWork = (count: number, options: { delay?: number } = {}) =>
    enqueue(db, (em) => Array.from({ length: count }, (_, n) => work.executeOnCommit({ n }, { em, delay: options.delay })));

  /** A client whose SendMessageBatch always fails: the send after commit never happens (as if the process died). */
  function deadClient(): SQSClient {
    const client = new SQSClient({ region: 'us-east-1' });
    mockClient(client).on(SendMessageBatchCommand).rejects(new Error('process died before sending'));
    return client;
  }

  quietLogs();
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'maintenance' }));
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('1. the process dies between commit and send: the relay delivers it once, with what is left of its delay', async () => {
    configureForQueues({ default: queue }, { sqsClient: deadClient() });
    const [id] = await enqueueWork(1, { delay: 3 });
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED, dispatchedAt: null });
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    expect(await relayQueuedTasks({ em: fork(), olderThanSeconds: 0 })).toEqual({ sent: 1, failed: 0 });
    expect(await fauxqs.count(queue.url)).toMatchObject({ visible: 0, delayed: 1 });
    expect((await getTask(fork(), id))!.dispatchedAt).toBeInstanceOf(Date);
    expect(await relayQueuedTasks({ em: fork(), olderThanSeconds: 0 })).toEqual({ sent: 0, failed: 0 });
    await runWorker(5000);
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });

  // PostgreSQL only: PGlite runs in this process, so its now() follows the mocked Date.now and no skew arises.
  itOnPostgres.each([
    ['an hour behind', -3_600_000],
    ['an hour ahead', 3_600_000],
  ])('with the app’s clock %s of the database’s, a due row is sent with what is left of its delay by the database clock', async (_title, skewMs) => {
    const skewQueue = await fauxqs.createQueue(`maintenance-skew-${skewMs > 0 ? 'ahead' : 'behind'}`);
    const client = new SQSClient({ endpoint: fauxqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const delays: number[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand') delays.push(...(args.input as SendMessageBatchCommandInput).Entries!.map((e) => e.DelaySeconds!));
        return next(args);
      },
      { step: 'initialize', name: 'recordDelays' },
    );
    configureForQueues({ default: skewQueue }, { sqsClient: client });
    // Committed two minutes ago, never sent, due in 600 s by the database's clock (within SQS's 900 s).
    const [{ id }] = await db.sql<{ id: string }>(
      `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout, enqueued_at, run_after)
       values (gen_random_uuid(), 'maintenance.work', '{"n":1}', 'default', 'QUEUED', 1, gen_random_uuid(), 300, now() - interval '2 minutes', now() + interval '600 seconds')
       returning id`,
    );
    const realNow = Date.now.bind(Date);
    const skewed = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + skewMs);
    try {
      let result: { sent: number; failed: number };
      try {
        result = await relayQueuedTasks({ em: fork(), olderThanSeconds: 60 });
      } finally {
        skewed.mockRestore();
      }
      expect(result).toEqual({ sent: 1, failed: 0 });
      expect(delays).toHaveLength(1);
      expect(delays[0]).toBeGreaterThanOrEqual(595); // never early
      expect(delays[0]).toBeLessThanOrEqual(600);
      expect((await getTask(fork(), id))!.dispatchedAt).toBeInstanceOf(Date);
    } finally {
      await db.sql('delete from task_record where id = ?', [id]);
      client.destroy();
    }
  });

  it('leaves young rows to the commit hook (olderThanSeconds)', async () => {
    configureForQueues({ default: queue }, { sqsClient: deadClient() });
    const ids = await enqueueWork(1);
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    expect(await relayQueuedTasks({ em: fork(), olderThanSeconds: 60 })).toEqual({ sent: 0, failed: 0 });
    await relayQueuedTasks({ em: fork(), olderThanSeconds: 0 });
    await runWorker();
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
  });

  it('2. SendMessageBatch fails entirely, then partially: the relay delivers every row once', async () => {
    configureForQueues({ default: queue }, { sqsClient: deadClient() });
    const entirely = await enqueueWork(3);
    // Partial: the real fauxqs client, with the first entry of each batch dropped and reported Failed.
    const partialClient = new SQSClient({ endpoint: fauxqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    partialClient.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        const input = args.input as SendMessageBatchCommandInput;
        const [dropped, ...rest] = input.Entries!;
        const result = await next({ ...args, input: { ...input, Entries: rest } });
        const output = result.output as SendMessageBatchCommandOutput;
        output.Failed = [...(output.Failed ?? []), { Id: dropped.Id!, Code: 'InternalError', SenderFault: false, Message: 'injected' }];
        return result;
      },
      { step: 'initialize', name: 'dropFirstEntry' },
    );
    configureForQueues({ default: queue }, { sqsClient: partialClient });
    const partially = await enqueueWork(3);
    const undispatched = await db.sql<{ id: string }>('select id from task_record where id in (?) and dispatched_at is null', [[...entirely, ...partially]]);
    expect(undispatched).toHaveLength(4);
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    expect(await relayQueuedTasks({ em: fork(), olderThanSeconds: 0 })).toEqual({ sent: 4, failed: 0 });
    await runWorker();
    expect(await account(db, [...entirely, ...partially])).toEqual({ lost: [], twice: [] });
  });

  itOnPostgres('3. two relays at once send each row once', async () => {
    configureForQueues({ default: queue }, { sqsClient: deadClient() });
    const ids = await enqueueWork(20);
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    const relay = () => relayQueuedTasks({ em: fork(), olderThanSeconds: 0, limit: 15 });
    const results = await Promise.all([relay(), relay()]);
    expect(results[0].sent + results[1].sent).toBe(20);
    expect(results.every((r) => r.sent > 0)).toBe(true); // both did work: SKIP LOCKED split the rows
    const messages = await fauxqs.drain(queue.url);
    const sentIds = messages.map((m) => JSON.parse(m.Body!).task_id as string);
    expect(new Set(sentIds).size).toBe(20);
    expect(sentIds).toHaveLength(20);
    for (let i = 0; i < messages.length; i += 10) await deliver({ fauxqs, queue }, handler(), { messages: messages.slice(i, i + 10) });
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
  });

  it('4. a task whose worker died (blocked past the Lambda deadline) is marked FAILED by the sweep', async () => {
    const [id] = await enqueueWork(1);
    const [message] = await fauxqs.receive(queue.url, { waitSeconds: 1 });
    expect(await claim(fork(), id, work.name, message.MessageId!)).not.toBeNull(); // the worker claimed it, then was killed
    await fauxqs.deleteMessages(queue.url, [message]);
    expect(await sweepLostTasks({ em: fork() })).toEqual({ swept: 0 }); // still within hard timeout + margin
    await db.sql("update task_record set start_time = now() - interval '361 seconds' where id = ?", [id]); // hard 300 + margin 60
    expect(await sweepLostTasks({ em: fork() })).toEqual({ swept: 1 });
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.FAILED });
    expect(record!.note).toMatch(/^swept: still RUNNING 60 s after its hard timeout/);
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });

  it('5. a message redriven to the DLQ unprocessed is re-sent by reconciliation and runs once; a malformed one stays', async () => {
    const [id] = await enqueueWork(1);
    await fauxqs.receive(queue.url, { waitSeconds: 1, visibilityTimeout: 1 }); // received, never processed
    await sleep(1200);
    expect(await fauxqs.receive(queue.url)).toEqual([]); // maxReceiveCount 1: moved to the DLQ
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody: '{"oops":' }));
    expect((await fauxqs.count(queue.dlqUrl)).total).toBe(2);
    const result = await reconcileDeadLetters({ em: fork() });
    expect(result).toEqual({ resent: 1, deleted: 0, kept: { malformed: 1, unknownTask: 0, noRow: 0, taskMismatch: 0, running: 0 } });
    await runWorker();
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
    expect(await fauxqs.count(queue.dlqUrl)).toMatchObject({ total: 1, inFlight: 1 }); // kept: visible again after reconciliation's visibility timeout
  });

  it('deletes a DLQ message whose task already finished, and keeps one without a row', async () => {
    const [id] = await enqueueWork(1);
    const [message] = await fauxqs.receive(queue.url, { waitSeconds: 1 });
    await deliver({ fauxqs, queue }, handler(), { messages: [message] });
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody: message.Body }));
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody: JSON.stringify({ task_id: '00000000-0000-4000-8000-00000000abcd', task_name: 'maintenance.work', kwargs: { n: 1 } }) }));
    const result = await reconcileDeadLetters({ em: fork() });
    expect(result).toMatchObject({ resent: 0, deleted: 1, kept: { noRow: 1 } });
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });

  it('runs relay, sweep and reconciliation on the maintenance event, each timed; a failing step does not skip the others', async () => {
    configureForQueues({ default: queue }, { sqsClient: deadClient() });
    const [id] = await enqueueWork(1);
    await db.sql("update task_record set enqueued_at = now() - interval '2 minutes' where id = ?", [id]);
    configureForQueues({ default: { ...queue, dlqUrl: `${fauxqs.endpoint}/000000000000/no-such-dlq` } }, { sqsClient: fauxqs.client });
    const response = (await handler()({ lambdaTasks: 'maintenance', v: 1 }, lambdaContext())) as { maintenance: Record<string, { ok: boolean; durationMs: number; error?: string; result?: unknown }> };
    expect(response.maintenance.relay).toMatchObject({ ok: true, result: { sent: 1, failed: 0 } });
    expect(response.maintenance.sweep).toMatchObject({ ok: true });
    expect(response.maintenance.reconcile).toMatchObject({ ok: false });
    expect(Object.values(response.maintenance).every((s) => typeof s.durationMs === 'number')).toBe(true);
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    await runWorker();
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
    const all = await runMaintenance({ em: fork() });
    expect(Object.keys(all)).toEqual(['relay', 'sweep', 'reconcile', 'cleanup']);
  });
});
