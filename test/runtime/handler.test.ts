import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { configureLambdaTasks } from '../../src/runtime/config';
import { LambdaTasksError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { createTestOrm, engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, enqueue, receiveMessages } from '../support/delivery';
import { lambdaContext } from '../support/events';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { withLogs } from '../support/logs';
import { configureForQueues } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class SideEffect {
  id!: number;
  label!: string;
}
const SideEffectSchema = new EntitySchema<SideEffect>({
  class: SideEffect,
  tableName: 'side_effect',
  properties: { id: { type: 'integer', primary: true, autoincrement: true }, label: { type: 'string' } },
});

class RecordNotFound extends Error {}
class UserGone extends RecordNotFound {}

const write = async (em: EntityManager | import('@mikro-orm/core').EntityManager, label: string) => {
  em.persist(Object.assign(new SideEffect(), { label }));
  await em.flush();
};

const greet = lambdaTask({ name: 'worker.greet', args: z.object({ name: z.string() }) }, async ({ name }, ctx) => {
  await write(ctx.em, `greet:${name}`);
  ctx.logger.info('greeting %s', name);
  return { greeting: `hello ${name}`, taskId: ctx.taskId };
});
const explode = lambdaTask({ name: 'worker.explode', args: z.object({ label: z.string() }) }, async ({ label }, ctx) => {
  await write(ctx.em, label);
  throw new Error('kaboom');
});
const ignored = lambdaTask({ name: 'worker.ignored', args: z.object({ label: z.string() }), ignoreErrors: [RecordNotFound] }, async ({ label }, ctx) => {
  await write(ctx.em, label);
  throw new UserGone('user 42 is gone');
});
const notJson = lambdaTask({ name: 'worker.notJson', args: z.object({}) }, async () => 10n);
const throwsString = lambdaTask({ name: 'worker.throwsString', args: z.object({}) }, async () => {
  throw 'a bare string'; // eslint-disable-line @typescript-eslint/only-throw-error
});
let gate: Promise<void> = Promise.resolve();
let started: () => void = () => undefined;
const slow = lambdaTask({ name: 'worker.slow', args: z.object({ label: z.string() }) }, async ({ label }, ctx) => {
  await write(ctx.em, label);
  started();
  await gate;
  return 'late';
});

describe(`The worker handler end to end (${engine})`, () => {
  withLogs(); // these tests read the library's log lines
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const tasks = [greet, explode, ignored, notJson, throwsString, slow];
  let handler: ReturnType<typeof createHandler>;
  const fork = () => db.orm.em.fork() as EntityManager;
  const effects = async (label: string) => fork().count(SideEffectSchema, { label });

  async function sendRaw(body: string): Promise<void> {
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
  }

  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'worker', entities: [SideEffectSchema] }));
    await db.sql('create table "side_effect" ("id" serial primary key, "label" text not null)');
    handler = createHandler({ tasks, orm: db.orm });
  }, START_TIMEOUT_MS);
  beforeEach(() => configureForQueues({ default: queue }, { sqsClient: fauxqs.client }));
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('is an async (event, context) function: arity 2, no callback', () => {
    expect(handler.length).toBe(2);
  });

  it('runs a task: executeOnCommit → SQS → handler → SUCCESS with result, times and message id', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const id = await enqueue(db, (em) => greet.executeOnCommit({ name: 'Alice' }, { em }));
    const { messages, response } = await deliver({ fauxqs, queue }, handler);
    const lines = info.mock.calls.map((c) => c[0] as string);
    info.mockRestore();
    expect(response).toEqual({ batchItemFailures: [] });
    expect(messages).toHaveLength(1);
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.SUCCESS, result: { greeting: 'hello Alice', taskId: id }, messageId: messages[0].MessageId, traceback: null });
    expect(record!.startTime!.getTime()).toBeLessThanOrEqual(record!.endTime!.getTime());
    expect(await effects('greet:Alice')).toBe(1);
    expect(lines).toContain(`[${id}] greeting Alice`);
    expect(await fauxqs.count(queue.url)).toMatchObject({ total: 0 });
  });

  it('records FAILED with the traceback and rolls the task’s writes back', async () => {
    const id = await enqueue(db, (em) => explode.executeOnCommit({ label: 'explode-1' }, { em }));
    expect((await deliver({ fauxqs, queue }, handler)).response.batchItemFailures).toEqual([]);
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.FAILED, result: null });
    expect(record!.traceback).toMatch(/^Error: kaboom\n\s+at /);
    expect(await effects('explode-1')).toBe(0);
  });

  it('records an ignoreErrors match (a subclass too) as SUCCESS with the traceback, a null result, writes rolled back', async () => {
    const id = await enqueue(db, (em) => ignored.executeOnCommit({ label: 'ignored-1' }, { em }));
    await deliver({ fauxqs, queue }, handler);
    const record = await getTask(fork(), id);
    expect(record).toMatchObject({ status: TaskStatus.SUCCESS, result: null });
    expect(record!.traceback).toMatch(/user 42 is gone/);
    expect(await effects('ignored-1')).toBe(0);
  });

  it('records a non-JSON return value as FAILED with a clear reason', async () => {
    const id = await enqueue(db, (em) => notJson.executeOnCommit({}, { em }));
    await deliver({ fauxqs, queue }, handler);
    expect((await getTask(fork(), id))!.traceback).toMatch(/the task returned a value that cannot be stored: result is a BigInt/);
  });

  it('turns a thrown non-Error into an Error', async () => {
    const id = await enqueue(db, (em) => throwsString.executeOnCommit({}, { em }));
    await deliver({ fauxqs, queue }, handler);
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.FAILED });
    expect((await getTask(fork(), id))!.traceback).toMatch(/Non-Error thrown: a bare string/);
  });

  it('reports exactly the malformed and unknown-task messages in batchItemFailures, made visible at once for the DLQ', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    await sendRaw('this is not json');
    await sendRaw(JSON.stringify({ task_name: 'nobody.knows', kwargs: {} }));
    const good = await enqueue(db, (em) => greet.executeOnCommit({ name: 'Bob' }, { em }));
    const messages = await receiveMessages({ fauxqs, queue }, 3);
    const { response } = await deliver({ fauxqs, queue }, handler, { messages });
    errors.mockRestore();
    const byBody = (text: string) => messages.find((m) => m.Body!.includes(text))!.MessageId;
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([byBody('this is not json'), byBody('nobody.knows')].sort());
    expect(await getTask(fork(), good)).toMatchObject({ status: TaskStatus.SUCCESS });
    // Visibility 0: the next receive finds them at once and, with maxReceiveCount 1, moves them to the DLQ.
    expect(await fauxqs.receive(queue.url)).toEqual([]);
    const dead = await fauxqs.drain(queue.dlqUrl);
    expect(dead.map((m) => m.Body).sort()).toEqual([JSON.stringify({ task_name: 'nobody.knows', kwargs: {} }), 'this is not json'].sort());
    await fauxqs.deleteMessages(queue.dlqUrl, dead);
  });

  it('runs a message without task_id (another producer) under a row keyed by its message id', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    await sendRaw(JSON.stringify({ task_name: 'worker.greet', kwargs: { name: 'Foreign' } }));
    const { messages } = await deliver({ fauxqs, queue }, handler);
    info.mockRestore();
    expect(await getTask(fork(), messages[0].MessageId!)).toMatchObject({ status: TaskStatus.SUCCESS, taskName: 'worker.greet', queue: 'default', kwargs: { name: 'Foreign' } });
  });

  it('records FAILED with the zod message when the kwargs fail the schema', async () => {
    await sendRaw(JSON.stringify({ task_name: 'worker.greet', kwargs: { name: 42 } }));
    const { messages, response } = await deliver({ fauxqs, queue }, handler);
    expect(response.batchItemFailures).toEqual([]);
    const record = await getTask(fork(), messages[0].MessageId!);
    expect(record).toMatchObject({ status: TaskStatus.FAILED, note: 'invalid arguments' });
    expect(record!.traceback).toMatch(/Task "worker.greet": kwargs: name: /);
  });

  it('skips, with a warning, a task_id without a row (rolled back or cleaned up)', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await sendRaw(JSON.stringify({ task_id: '00000000-0000-4000-8000-000000000001', task_name: 'worker.greet', kwargs: { name: 'Ghost' } }));
    const { response } = await deliver({ fauxqs, queue }, handler);
    expect(response.batchItemFailures).toEqual([]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('does not exist'));
    warn.mockRestore();
    expect(await effects('greet:Ghost')).toBe(0);
  });

  it('runs a message delivered twice only once', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await enqueue(db, (em) => greet.executeOnCommit({ name: 'Twice' }, { em }));
    const { messages } = await deliver({ fauxqs, queue }, handler);
    const again = await deliver({ fauxqs, queue }, handler, { messages });
    info.mockRestore();
    expect(again.response.batchItemFailures).toEqual([]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('duplicate delivery: the task is already SUCCESS'));
    warn.mockRestore();
    expect(await effects('greet:Twice')).toBe(1);
  });

  it('reports the batch when the database is unreachable at the claim (not "processed")', async () => {
    const broken = await createTestOrm({ migrate: false });
    await broken.close();
    const brokenHandler = createHandler({ tasks, orm: broken.orm });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const id = await enqueue(db, (em) => greet.executeOnCommit({ name: 'Unreachable' }, { em }));
    const { messages, response } = await deliver({ fauxqs, queue }, brokenHandler);
    errors.mockRestore();
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: messages[0].MessageId }]);
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED });
    // It went to the DLQ, where reconciliation will find its row still QUEUED.
    await fauxqs.receive(queue.url);
    const dead = await fauxqs.drain(queue.dlqUrl);
    expect(dead.map((m) => JSON.parse(m.Body!).task_id)).toEqual([id]);
    await fauxqs.deleteMessages(queue.dlqUrl, dead);
  });

  it('fails the whole batch when initialisation fails, and tries again on the next invocation', async () => {
    let attempts = 0;
    const flaky = createHandler({
      tasks,
      ormConfig: () => {
        attempts++;
        if (attempts === 1) throw new Error('database not ready');
        return db.orm.config.getAll() as never;
      },
    });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    await enqueue(db, (em) => greet.executeOnCommit({ name: 'Flaky' }, { em }));
    const first = await deliver({ fauxqs, queue }, flaky);
    expect(first.response.batchItemFailures).toHaveLength(1);
    // Visible again at once; in this test we hand the same message in again instead of going through the DLQ.
    const second = await deliver({ fauxqs, queue }, flaky, { messages: first.messages });
    errors.mockRestore();
    info.mockRestore();
    expect(second.response.batchItemFailures).toEqual([]);
    expect(attempts).toBe(2);
    expect(await effects('greet:Flaky')).toBe(1);
    await flaky.close();
    await fauxqs.drain(queue.dlqUrl).then((dead) => fauxqs.deleteMessages(queue.dlqUrl, dead));
  });

  describe('a worker whose configuration is invalid fails its initialisation: the batch goes back, rows stay QUEUED', () => {
    const saved = process.env.LAMBDA_TASKS_QUEUES;
    afterEach(() => {
      if (saved === undefined) delete process.env.LAMBDA_TASKS_QUEUES;
      else process.env.LAMBDA_TASKS_QUEUES = saved;
    });
    it.each([
      ['without LAMBDA_TASKS_QUEUES', undefined, /LAMBDA_TASKS_QUEUES: is not set: give at least .*default.*SQS queue URL/],
      ['with LAMBDA_TASKS_QUEUES that is not JSON', '{"default": https://sqs', /LAMBDA_TASKS_QUEUES: is not valid JSON .*; expected .*default.*https:\/\/sqs/],
    ])('%s', async (_title, value, named) => {
      const id = await enqueue(db, (em) => greet.executeOnCommit({ name: 'Misconfigured' }, { em }));
      const messages = await receiveMessages({ fauxqs, queue }, 1);
      // The worker's environment: no queues in code, the variable missing or broken.
      configureLambdaTasks({ sqsClient: fauxqs.client });
      if (value === undefined) delete process.env.LAMBDA_TASKS_QUEUES;
      else process.env.LAMBDA_TASKS_QUEUES = value;
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      let ormConfigs = 0;
      // Both ways to give the ORM: an initialised one, and a config built at cold start (never built here).
      const worker = value === undefined
        ? createHandler({ tasks, orm: db.orm })
        : createHandler({ tasks, ormConfig: () => (ormConfigs++, db.orm.config.getAll() as never) });
      const { response } = await deliver({ fauxqs, queue }, worker, { messages });
      const logged = errors.mock.calls.map((c) => String(c[0]));
      errors.mockRestore();
      info.mockRestore();
      warn.mockRestore();
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: messages[0].MessageId }]);
      expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.QUEUED, note: null, startTime: null });
      expect(logged.some((line) => line.includes('worker initialisation failed') && named.test(line))).toBe(true);
      // Without the queue map the release (visibility 0) goes to the queue's regional URL, which fauxqs does not
      // serve: here the message waits out its visibility timeout instead; remove it so no later test receives it.
      await fauxqs.deleteMessages(queue.url, messages);
      expect(ormConfigs).toBe(0);
      await worker.close();
    });
  });

  it('throws for an event it does not recognise (a mistyped schedule tick fails the invocation, never an empty batch response)', async () => {
    for (const event of [{ lambdaTask: 'schedule', schedule: 'nightly' }, {}, { Records: 'not a list' }, { Records: [{ body: '{}' }] }]) {
      const rejection = handler(event, lambdaContext()).then(() => 'resolved', (error: unknown) => error);
      await expect(rejection).resolves.toBeInstanceOf(LambdaTasksError);
      await expect(rejection).resolves.toMatchObject({ message: expect.stringMatching(/^event: not an SQS event, a schedule event .* or the maintenance event/) });
    }
    const named = await handler({ lambdaTask: 'schedule' }, lambdaContext()).catch((error: Error) => error.message);
    expect(named).toContain('"lambdaTask"'); // names what it got
  });

  itOnPostgres('does not overwrite a row FAILED by someone else with a late SUCCESS', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const running = new Promise<void>((resolve) => (started = resolve));
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const id = await enqueue(db, (em) => slow.executeOnCommit({ label: 'slow-1' }, { em }));
    const delivering = deliver({ fauxqs, queue }, handler);
    await running;
    await db.sql("update task_record set status = 'FAILED', note = 'swept' where id = ?", [id]);
    release();
    await delivering;
    warn.mockRestore();
    expect(await getTask(fork(), id)).toMatchObject({ status: TaskStatus.FAILED, note: 'swept' });
    expect(await effects('slow-1')).toBe(0);
  });
});
