import { runInNewContext } from 'node:vm';
import type { SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { TaskValidationError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { TaskStatus } from '../../src/runtime/record';
import { relayQueuedTasks } from '../../src/runtime/relay';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, enqueue, receiveMessages } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

const remind = lambdaTask({ name: 'runAt.remind', args: z.object({ who: z.string() }) }, async ({ who }) => `reminded ${who}`);

describe(`Tasks that run more than 900 s after their commit: delay and runAt (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  /** Every SendMessageBatch entry the library sent: task id → DelaySeconds. */
  let sentDelays: { id: string; delaySeconds: number }[] = [];
  const row = async (id: string) =>
    (await db.sql<{ status: string; dispatched_at: Date | null; due_in: number }>(
      'select status, dispatched_at, extract(epoch from run_after - now())::float8 as due_in from task_record where id = ?',
      [id],
    ))[0];
  /** Time passes for a row: it is now due in `seconds`. */
  const dueIn = (id: string, seconds: number) => db.sql("update task_record set run_after = now() + make_interval(secs => ?), enqueued_at = now() - interval '1 hour' where id = ?", [seconds, id]);

  quietLogs(['info', 'warn']);
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'run-at' }));
    fauxqs.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand') {
          for (const e of (args.input as SendMessageBatchCommandInput).Entries ?? []) sentDelays.push({ id: e.Id!, delaySeconds: e.DelaySeconds ?? 0 });
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordSentDelays' },
    );
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    sentDelays = [];
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('runAt in 20 minutes: not sent at commit; the relay leaves it until it is due within 900 s, then sends it once with the exact remaining delay', async () => {
    const id = await enqueue(db, (em) => remind.executeOnCommit({ who: 'ada' }, { em, runAt: new Date(Date.now() + 20 * 60_000) }));
    expect(sentDelays).toEqual([]);
    expect(await row(id)).toMatchObject({ status: TaskStatus.QUEUED, dispatched_at: null });
    expect((await row(id)).due_in).toBeGreaterThan(1190);

    await dueIn(id, 1200);
    expect(await relayQueuedTasks({ em: db.orm.em })).toEqual({ sent: 0, failed: 0 }); // 20 minutes away: not yet
    await dueIn(id, 900.5);
    expect(await relayQueuedTasks({ em: db.orm.em })).toEqual({ sent: 0, failed: 0 }); // 900.5 s: would be early by 0.5 s
    await dueIn(id, 600);
    expect(await relayQueuedTasks({ em: db.orm.em })).toEqual({ sent: 1, failed: 0 });
    expect(sentDelays).toHaveLength(1);
    expect(sentDelays[0].id).toBe(id);
    expect(sentDelays[0].delaySeconds).toBeGreaterThanOrEqual(599); // the remaining time, rounded up: never early
    expect(sentDelays[0].delaySeconds).toBeLessThanOrEqual(600);
    expect((await row(id)).dispatched_at).not.toBeNull();
    expect(await relayQueuedTasks({ em: db.orm.em })).toEqual({ sent: 0, failed: 0 }); // never twice
    expect(sentDelays).toHaveLength(1);
  });

  it('a delay of 1,200 s is deferred like runAt; one of 900 s is sent at commit with DelaySeconds 900', async () => {
    const [later, soon] = await enqueue(db, (em) => [remind.executeOnCommit({ who: 'later' }, { em, delay: 1200 }), remind.executeOnCommit({ who: 'soon' }, { em, delay: 900 })]);
    expect(sentDelays.map((e) => e.id)).toEqual([soon]);
    expect(sentDelays[0].delaySeconds).toBeGreaterThanOrEqual(899);
    expect(sentDelays[0].delaySeconds).toBeLessThanOrEqual(900);
    expect((await row(later)).dispatched_at).toBeNull();
  });

  it('a runAt in the past runs now: sent at commit without delay, and the worker runs it', async () => {
    const id = await enqueue(db, (em) => remind.executeOnCommit({ who: 'late' }, { em, runAt: new Date(Date.now() - 60_000) }));
    expect(sentDelays).toEqual([{ id, delaySeconds: 0 }]);
    await deliver({ fauxqs, queue }, createHandler({ tasks: [remind], orm: db.orm }), { messages: await receiveMessages({ fauxqs, queue }, 1) });
    expect((await row(id)).status).toBe(TaskStatus.SUCCESS);
  });

  itOnPostgres('two relays at once send a due row once', async () => {
    const id = await enqueue(db, (em) => remind.executeOnCommit({ who: 'twice?' }, { em, delay: 3600 }));
    await dueIn(id, 300);
    const results = await Promise.all([relayQueuedTasks({ em: db.orm.em }), relayQueuedTasks({ em: db.orm.em })]);
    expect(results.map((r) => r.sent).sort()).toEqual([0, 1]);
    expect(sentDelays.filter((e) => e.id === id)).toHaveLength(1);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['both delay and runAt', { delay: 10, runAt: new Date() }, 'runAt', /give delay or runAt, not both/],
    ['an invalid Date', { runAt: new Date('not a date') }, 'runAt', /is not a valid Date/],
    ['a string for runAt', { runAt: '2027-01-01' }, 'runAt', /is not a valid Date/],
    ['a runAt two years ahead', { runAt: new Date(Date.now() + 2 * 365 * 86_400_000) }, 'runAt', /more than 366 days ahead/],
    ['milliseconds as the delay', { delay: Date.now() }, 'delay', /delay is in seconds \(not milliseconds\); for a date, use runAt/],
    ['a negative delay', { delay: -1 }, 'delay', /not a whole number of seconds/],
  ])('refuses %s with TaskValidationError naming the field, and writes nothing', async (_title, options, field, message) => {
    const before = (await db.sql<{ n: number }>('select count(*)::int as n from task_record'))[0].n;
    const error = await enqueue(db, (em) => remind.executeOnCommit({ who: 'x' }, { em, ...options })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskValidationError);
    expect(error).toMatchObject({ field });
    expect((error as Error).message).toMatch(message);
    expect((await db.sql<{ n: number }>('select count(*)::int as n from task_record'))[0].n).toBe(before);
  });

  it('takes a runAt Date from another realm (vm context, iframe, worker bundle) like a local one', async () => {
    const at = Date.now() + 20 * 60_000;
    const foreign = runInNewContext(`new Date(${at})`) as Date;
    expect(foreign instanceof Date).toBe(false); // the check can fail: it is another realm's Date
    const id = await enqueue(db, (em) => remind.executeOnCommit({ who: 'realm' }, { em, runAt: foreign }));
    const [{ run_after: runAfter }] = await db.sql<{ run_after: Date }>('select run_after from task_record where id = ?', [id]);
    expect(new Date(runAfter).getTime()).toBe(at);
    const invalid = await enqueue(db, (em) => remind.executeOnCommit({ who: 'x' }, { em, runAt: runInNewContext('new Date(NaN)') as Date })).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ field: 'runAt', message: expect.stringMatching(/is not a valid Date/) });
    // Something that only looks like a Date is still refused.
    const fake = await enqueue(db, (em) => remind.executeOnCommit({ who: 'x' }, { em, runAt: { [Symbol.toStringTag]: 'Date', getTime: () => at } as unknown as Date })).catch((e: unknown) => e);
    expect(fake).toBeInstanceOf(TaskValidationError);
    await db.sql('delete from task_record where id = ?', [id]);
  });

  it('serialize() still takes only SQS delays (0..900): its caller sends the message', () => {
    expect(remind.serialize({ who: 'x' }, { delay: 900 }).delay).toBe(900);
    expect(() => remind.serialize({ who: 'x' }, { delay: 901 })).toThrow(/from 0 to 900/);
  });
});
