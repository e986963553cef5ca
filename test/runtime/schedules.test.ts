import { z } from 'zod';
import { SCHEDULED_TIME_PLACEHOLDER, SCHEDULES_ENV, scheduleEventInput } from '../../src/runtime/contract';
import { ConfigurationError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { TaskStatus } from '../../src/runtime/record';
import { engine, type TestDatabase } from '../support/database';
import { deliver, receiveMessages } from '../support/delivery';
import { lambdaContext } from '../support/events';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { withLogs } from '../support/logs';
import { configureForQueues } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

const ran: string[] = [];
const summary = lambdaTask({ name: 'schedules.summary', args: z.object({ kind: z.enum(['daily', 'weekly']) }) }, async ({ kind }, ctx) => {
  ran.push(`summary ${kind}:${ctx.taskId}`);
  return kind;
});
const report = lambdaTask({ name: 'schedules.report', args: z.object({ kind: z.enum(['daily', 'weekly']) }) }, async ({ kind }, ctx) => {
  ran.push(`${kind}:${ctx.taskId}`);
  return kind;
});

/** The event the scheduler sends for one tick: the construct's input with the placeholder filled in. */
const tick = (schedule: string, kwargs: Record<string, unknown>, scheduledTime: string, task = 'schedules.report') => ({
  ...scheduleEventInput(schedule, { task, kwargs }),
  scheduledTime,
});

describe(`Schedule events (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  let errors: jest.SpyInstance;
  const rows = () => db.sql<{ id: string; status: string; idempotency_key: string }>("select id, status, idempotency_key from task_record where task_name = 'schedules.report' order by enqueued_at");
  const keyed = () => db.sql<{ id: string; task_name: string; idempotency_key: string }>("select id, task_name, idempotency_key from task_record where idempotency_key like 'schedule:%' order by enqueued_at, task_name");
  const worker = (schedules: Record<string, unknown>) => {
    process.env[SCHEDULES_ENV] = JSON.stringify(schedules);
    try {
      return createHandler({ tasks: [report, summary], orm: db.orm });
    } finally {
      delete process.env[SCHEDULES_ENV];
    }
  };

  withLogs('error');
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'schedules' }));
  }, START_TIMEOUT_MS);
  beforeEach(async () => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    ran.length = 0;
    await db.sql("delete from task_record where task_name in ('schedules.report', 'schedules.summary')");
  });
  afterEach(() => errors?.mockRestore()); // undefined when the start-up failed (beforeEach did not run)
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('the construct’s event carries the scheduler’s time placeholder', () => {
    expect(scheduleEventInput('daily-report', { task: 'schedules.report', kwargs: { kind: 'daily' } })).toEqual({
      lambdaTasks: 'schedule', v: 1, schedule: 'daily-report', task: 'schedules.report', kwargs: { kind: 'daily' }, scheduledTime: SCHEDULED_TIME_PLACEHOLDER,
    });
  });

  it('one tick delivered twice enqueues one task, which runs once; the next tick enqueues another', async () => {
    const handle = worker({ 'daily-report': { task: 'schedules.report', kwargs: { kind: 'daily' } } });
    const first = await handle(tick('daily-report', { kind: 'daily' }, '2026-11-30T09:00:00Z'), lambdaContext());
    const again = await handle(tick('daily-report', { kind: 'daily' }, '2026-11-30T09:00:00Z'), lambdaContext());
    expect(again).toEqual(first);
    expect(await rows()).toEqual([{ id: (first as { schedule: { taskId: string } }).schedule.taskId, status: TaskStatus.QUEUED, idempotency_key: 'schedule:daily-report:schedules.report:2026-11-30T09:00:00.000Z' }]);
    await deliver({ fauxqs, queue }, handle, { messages: await receiveMessages({ fauxqs, queue }, 1) });
    expect(await receiveMessages({ fauxqs, queue }, 1, { timeoutMs: 1_500 })).toEqual([]); // one message for the tick
    expect(ran).toHaveLength(1);
    await handle(tick('daily-report', { kind: 'daily' }, '2026-12-01T09:00:00Z'), lambdaContext());
    expect((await rows()).map((r) => r.status)).toEqual([TaskStatus.SUCCESS, TaskStatus.QUEUED]);
    expect(errors).not.toHaveBeenCalled();
  });

  it('a schedule pointed at another task: a re-delivered tick enqueues that task (its key names the task), once', async () => {
    const before = worker({ nightly: { task: 'schedules.report', kwargs: { kind: 'daily' } } });
    const first = (await before(tick('nightly', { kind: 'daily' }, '2026-11-30T02:00:00Z'), lambdaContext())) as { schedule: { taskId: string } };
    // A deployment points the schedule at another task; the scheduler (or Lambda) delivers the same tick again.
    const after = worker({ nightly: { task: 'schedules.summary', kwargs: { kind: 'daily' } } });
    const again = (await after(tick('nightly', { kind: 'daily' }, '2026-11-30T02:00:00Z', 'schedules.summary'), lambdaContext())) as { schedule: { taskId: string } };
    const twice = (await after(tick('nightly', { kind: 'daily' }, '2026-11-30T02:00:00Z', 'schedules.summary'), lambdaContext())) as { schedule: { taskId: string } };
    expect(again.schedule.taskId).not.toBe(first.schedule.taskId);
    expect(twice.schedule.taskId).toBe(again.schedule.taskId);
    expect(await keyed()).toEqual([
      { id: first.schedule.taskId, task_name: 'schedules.report', idempotency_key: 'schedule:nightly:schedules.report:2026-11-30T02:00:00.000Z' },
      { id: again.schedule.taskId, task_name: 'schedules.summary', idempotency_key: 'schedule:nightly:schedules.summary:2026-11-30T02:00:00.000Z' },
    ]);
    await receiveMessages({ fauxqs, queue }, 2).then((m) => fauxqs.deleteMessages(queue.url, m));
    expect(errors).not.toHaveBeenCalled();
  });

  it('a tick enqueued before the key named the task (schedule:<name>:<time>) and delivered again after the upgrade enqueues nothing new', async () => {
    const handle = worker({ 'daily-report': { task: 'schedules.report', kwargs: { kind: 'daily' } } });
    const [{ id: oldId }] = await db.sql<{ id: string }>(
      `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, idempotency_key, hard_timeout, enqueued_at, run_after)
       values (gen_random_uuid(), 'schedules.report', '{"kind":"daily"}', 'default', 'SUCCESS', 1, gen_random_uuid(), 'schedule:daily-report:2026-11-29T09:00:00.000Z', 300, now(), now())
       returning id`,
    );
    const again = await handle(tick('daily-report', { kind: 'daily' }, '2026-11-29T09:00:00Z'), lambdaContext());
    expect(again).toMatchObject({ schedule: { taskId: oldId } });
    expect((await rows()).map((r) => r.id)).toEqual([oldId]);
    // A schedule name and task name at their longest still make a key the column holds (the task name hashed).
    const longName = `s${'x'.repeat(63)}`;
    const longTask = lambdaTask({ name: `schedules.${'y'.repeat(190)}`, args: z.object({}) }, async () => 'long');
    process.env[SCHEDULES_ENV] = JSON.stringify({ [longName]: { task: longTask.name, kwargs: {} } });
    const longWorker = createHandler({ tasks: [longTask], orm: db.orm });
    delete process.env[SCHEDULES_ENV];
    const long = (await longWorker({ ...scheduleEventInput(longName, { task: longTask.name, kwargs: {} }), scheduledTime: '2026-11-29T09:00:00Z' }, lambdaContext())) as { schedule: { taskId: string } };
    const [{ idempotency_key: longKey }] = await db.sql<{ idempotency_key: string }>('select idempotency_key from task_record where id = ?', [long.schedule.taskId]);
    expect(longKey.length).toBeLessThanOrEqual(255);
    expect(longKey).toMatch(new RegExp(`^schedule:${longName}:#[0-9a-f]{32}:2026-11-29T09:00:00.000Z$`));
    await receiveMessages({ fauxqs, queue }, 1).then((m) => fauxqs.deleteMessages(queue.url, m));
    await db.sql('delete from task_record where id = ?', [long.schedule.taskId]);
    expect(errors).not.toHaveBeenCalled();
  });

  it('a schedule with wrong kwargs is logged once when the worker starts, and each of its ticks fails naming it; other schedules run', async () => {
    const handle = worker({
      'weekly-report': { task: 'schedules.report', kwargs: { kind: 'monthly' } },
      'daily-report': { task: 'schedules.report', kwargs: { kind: 'daily' } },
    });
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0][0])).toMatch(/schedule refused.*"schedule":"weekly-report".*kwargs: kind: Invalid option/);
    const failure = await handle(tick('weekly-report', { kind: 'monthly' }, '2026-11-30T09:00:00Z'), lambdaContext()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect(failure).toMatchObject({ field: 'schedules.weekly-report' });
    expect((failure as Error).message).toMatch(/kwargs: kind/);
    await handle(tick('daily-report', { kind: 'daily' }, '2026-11-30T09:00:00Z'), lambdaContext());
    expect((await rows()).map((r) => r.idempotency_key)).toEqual(['schedule:daily-report:schedules.report:2026-11-30T09:00:00.000Z']);
    expect(errors).toHaveBeenCalledTimes(1); // not again at each tick
  });

  it('a schedule naming a task this worker does not have says how to fix it', async () => {
    worker({ nightly: { task: 'reports.nightly', kwargs: {} } });
    expect(String(errors.mock.calls[0][0])).toMatch(/task \\"reports.nightly\\" is not registered in this worker: pass it to createHandler\(\{ tasks \}\)/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unfilled time placeholder', { scheduledTime: SCHEDULED_TIME_PLACEHOLDER }, /scheduledTime/],
    ['another version', { v: 2 }, /v: Invalid input: expected 1/],
    ['a bad schedule name', { schedule: 'no spaces please' }, /schedule/],
    ['an unknown field', { extra: true }, /extra/],
  ])('refuses a malformed event (%s) with ConfigurationError, writing nothing', async (_title, change, message) => {
    const handle = worker({ 'daily-report': { task: 'schedules.report', kwargs: { kind: 'daily' } } });
    const failure = await handle({ ...tick('daily-report', { kind: 'daily' }, '2026-11-30T09:00:00Z'), ...change }, lambdaContext()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect((failure as Error).message).toMatch(/not a valid schedule event/);
    expect((failure as Error).message).toMatch(message);
    expect(await rows()).toEqual([]);
  });
});
