import { SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { RESENDS_ATTRIBUTE } from '../../src/runtime/contract';
import { SoftTimeLimitExceeded } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { type SqsBatchResponse } from '../../src/runtime/types';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, enqueue, receiveMessages } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class Mark {
  id!: number;
  label!: string;
}
const MarkSchema = new EntitySchema<Mark>({ class: Mark, tableName: 'mark', properties: { id: { type: 'integer', primary: true, autoincrement: true }, label: { type: 'string' } } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mark = async (em: import('@mikro-orm/core').EntityManager, label: string) => {
  em.persist(Object.assign(new Mark(), { label }));
  await em.flush();
};

let softReason: unknown;
const cleansUp = lambdaTask({ name: 'timeouts.cleansUp', args: z.object({}), softTimeout: 1, hardTimeout: 5 }, async (_args, ctx) => {
  await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  softReason = ctx.signal.reason;
  await mark(ctx.em, 'cleaned up');
  return 'partial';
});
const ignoresSoft = lambdaTask({ name: 'timeouts.ignoresSoft', args: z.object({}), softTimeout: 1, hardTimeout: 5 }, async (_args, ctx) => {
  await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  throw ctx.signal.reason;
});
const hangs = lambdaTask({ name: 'timeouts.hangs', args: z.object({ label: z.string() }), softTimeout: 1, hardTimeout: 2 }, async ({ label }, ctx) => {
  await mark(ctx.em, label);
  await sleep(5000);
  await mark(ctx.em, `${label} (late)`);
  return 'too late';
});
const sleepsInSql = lambdaTask({ name: 'timeouts.sleepsInSql', args: z.object({ label: z.string() }), softTimeout: 1, hardTimeout: 2 }, async ({ label }, ctx) => {
  await mark(ctx.em, label);
  await (ctx.em as EntityManager).execute('select pg_sleep(10)');
  return 'never';
});
const steady = lambdaTask({ name: 'timeouts.steady', args: z.object({ n: z.number() }), hardTimeout: 2 }, async ({ n }, ctx) => {
  await sleep(1000);
  await mark(ctx.em, `steady ${n}`);
  return n;
});
const huge = lambdaTask({ name: 'timeouts.huge', args: z.object({}), hardTimeout: 600 }, async () => 'ran');
const overlap = lambdaTask({ name: 'timeouts.overlap', args: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
  const [{ txid }] = await (ctx.em as EntityManager).execute<{ txid: string }[]>('select txid_current()::text as txid');
  const started = Date.now();
  await sleep(500);
  return { n, txid, started };
});

describe(`Timeouts and deadlines in the worker (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const tasks = [cleansUp, ignoresSoft, hangs, sleepsInSql, steady, huge, overlap];
  const fork = () => db.orm.em.fork() as EntityManager;
  const marks = (label: string) => fork().count(MarkSchema, { label });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  /** Delivers the messages to a new handler of these tasks with `concurrency`, in a Lambda with `remainingMs` left. */
  async function run(messages: Message[], options: { remainingMs?: number; concurrency?: number } = {}): Promise<SqsBatchResponse> {
    const handler = createHandler({ tasks, orm: db.orm, concurrency: options.concurrency });
    return (await deliver({ fauxqs, queue }, handler, { messages, remainingMs: options.remainingMs })).response;
  }

  quietLogs();
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'timeouts', entities: [MarkSchema] }));
    await db.sql('create table "mark" ("id" serial primary key, "label" text not null)');
    process.on('unhandledRejection', onUnhandled);
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await stopWorkerEnvironment({ db, fauxqs });
  });

  it('aborts ctx.signal with SoftTimeLimitExceeded; a task that catches it cleans up and records what it chose', async () => {
    const id = await enqueue(db, (em) => cleansUp.executeOnCommit({}, { em }));
    await run(await receiveMessages({ fauxqs, queue }, 1));
    expect(softReason).toBeInstanceOf(SoftTimeLimitExceeded);
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.SUCCESS, result: 'partial' });
    expect(await marks('cleaned up')).toBe(1);
  });

  it('fails a task that lets SoftTimeLimitExceeded escape, like any error', async () => {
    const id = await enqueue(db, (em) => ignoresSoft.executeOnCommit({}, { em }));
    await run(await receiveMessages({ fauxqs, queue }, 1));
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.FAILED });
    expect(record!.traceback).toMatch(/^SoftTimeLimitExceeded: Soft time limit \(1 s\) exceeded/);
  });

  it('stops an async task at its hard timeout: FAILED within hardTimeout + 1 s, none of its writes commit, no unhandled rejection', async () => {
    const id = await enqueue(db, (em) => hangs.executeOnCommit({ label: 'hangs' }, { em }));
    const messages = await receiveMessages({ fauxqs, queue }, 1);
    const started = Date.now();
    await run(messages);
    const elapsed = Date.now() - started;
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.FAILED, note: 'hard timeout' });
    expect(record!.traceback).toMatch(/^HardTimeLimitExceeded: Hard time limit \(2 s\) exceeded/);
    expect(elapsed).toBeLessThan(3000);
    await sleep(3500); // the abandoned task wakes up, tries to write, and fails quietly
    expect(await marks('hangs')).toBe(0);
    expect(await marks('hangs (late)')).toBe(0);
    expect(unhandled).toEqual([]);
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.FAILED });
  });

  itOnPostgres('cancels a long statement at the hard timeout (pg_sleep) and rolls back', async () => {
    const id = await enqueue(db, (em) => sleepsInSql.executeOnCommit({ label: 'sql sleeper' }, { em }));
    const messages = await receiveMessages({ fauxqs, queue }, 1);
    const started = Date.now();
    await run(messages);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.FAILED, note: 'hard timeout' });
    await sleep(200);
    expect(await marks('sql sleeper')).toBe(0);
    const sleeping = await db.sql<{ n: string }>("select count(*) as n from pg_stat_activity where datname = current_database() and query like 'select pg_sleep%' and state = 'active'");
    expect(Number(sleeping[0].n)).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('re-sends, unchanged, what no longer fits in the remaining time; runs them on the next call; the DLQ stays empty', async () => {
    const ids = await enqueue(db, (em) => [0, 1, 2, 3, 4].map((n) => steady.executeOnCommit({ n }, { em })));
    const messages = await receiveMessages({ fauxqs, queue }, 5);
    expect(messages).toHaveLength(5);
    // hardTimeout 2 s + 10 s margin = 12 s per task; each takes ~1 s; 13.5 s left: two fit.
    const response = await run(messages, { remainingMs: 13_500 });
    expect(response.batchItemFailures).toEqual([]);
    const statuses = await Promise.all(ids.map(async (id) => (await getTask(fork(), id))!.status));
    expect(statuses.filter((s) => s === TaskStatus.SUCCESS)).toHaveLength(2);
    expect(statuses.filter((s) => s === TaskStatus.QUEUED)).toHaveLength(3);
    const again = await receiveMessages({ fauxqs, queue }, 3);
    expect(again.map((m) => JSON.parse(m.Body!).task_id).sort()).toEqual(ids.filter((_, i) => statuses[i] === TaskStatus.QUEUED).sort());
    expect(again.map((m) => m.MessageAttributes?.[RESENDS_ATTRIBUTE]?.StringValue)).toEqual(['1', '1', '1']);
    expect(await fauxqs.count(queue.dlqUrl)).toMatchObject({ total: 0 });
    await run(again);
    const after = await Promise.all(ids.map(async (id) => (await getTask(fork(), id))!.status));
    expect(after).toEqual(Array(5).fill(TaskStatus.SUCCESS));
  });

  it('records FAILED with a note, instead of looping, a task that can never fit', async () => {
    const id = await enqueue(db, (em) => huge.executeOnCommit({}, { em }));
    // The worker's queue allows 300 s: a 600 s task can never run here.
    configureForQueues({ default: { ...queue } }, { sqsClient: fauxqs.client, queues: { default: { url: queue.url, maxHardTimeout: 300 } } });
    await run(await receiveMessages({ fauxqs, queue }, 1), { remainingMs: 330_000 });
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.FAILED });
    expect(record!.note).toMatch(/^deadline: it can never run on this worker: its hard timeout \(600 s\) exceeds the maxHardTimeout of queue "default" \(300 s\)/);
  });

  it('records FAILED with a note a message re-sent three times for lack of time', async () => {
    const id = await enqueue(db, (em) => steady.executeOnCommit({ n: 9 }, { em }));
    const [message] = await receiveMessages({ fauxqs, queue }, 1);
    await fauxqs.deleteMessages(queue.url, [message]);
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: message.Body, MessageAttributes: { [RESENDS_ATTRIBUTE]: { DataType: 'Number', StringValue: '3' } } }));
    await run(await receiveMessages({ fauxqs, queue }, 1), { remainingMs: 5_000 });
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.FAILED });
    expect(record!.note).toMatch(/^deadline: re-sent 3 times for lack of time/);
    expect(await fauxqs.count(queue.url)).toMatchObject({ total: 0 });
  });

  it('re-sends the rest of a batch after a hard timeout instead of running it next to the abandoned task', async () => {
    const [stuck, ...rest] = await enqueue(db, (em) => [hangs.executeOnCommit({ label: 'stuck' }, { em }), steady.executeOnCommit({ n: 20 }, { em }), steady.executeOnCommit({ n: 21 }, { em })]);
    const messages = await receiveMessages({ fauxqs, queue }, 3);
    const ordered = [stuck, ...rest].map((id) => messages.find((m) => JSON.parse(m.Body!).task_id === id)!);
    await run(ordered);
    expect(await getTask(fork(), stuck)).toMatchObject({ status: TaskStatus.FAILED });
    for (const id of rest) expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED });
    const again = await receiveMessages({ fauxqs, queue }, 2);
    expect(again.map((m) => JSON.parse(m.Body!).task_id).sort()).toEqual([...rest].sort());
    await run(again);
    for (const id of rest) expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.SUCCESS });
    await sleep(3000); // let the abandoned task finish before the file closes its database
    expect(unhandled).toEqual([]);
  });

  itOnPostgres('with concurrency 3, three slow tasks overlap, each in its own transaction', async () => {
    const ids = await enqueue(db, (em) => [1, 2, 3].map((n) => overlap.executeOnCommit({ n }, { em })));
    const messages = await receiveMessages({ fauxqs, queue }, 3);
    const started = Date.now();
    await run(messages, { concurrency: 3 });
    expect(Date.now() - started).toBeLessThan(1400); // one after the other would take 1.5 s
    const results = await Promise.all(ids.map(async (id) => (await getTask(fork(), id))!.result as { txid: string; started: number }));
    expect(new Set(results.map((r) => r.txid)).size).toBe(3);
    const starts = results.map((r) => r.started);
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(400);
  });
});
