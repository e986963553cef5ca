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
import { startWorkerEnvironment, stopWorkerEnvironment } from '../support/worker-environment';

const ran: string[] = [];
const report = lambdaTask({ name: 'schedules.report', args: z.object({ kind: z.enum(['daily', 'weekly']) }) }, async ({ kind }, ctx) => {
  ran.push(`${kind}:${ctx.taskId}`);
  return kind;
});

/** The event the scheduler sends for one tick: the construct's input with the placeholder filled in. */
const tick = (schedule: string, kwargs: Record<string, unknown>, scheduledTime: string) => ({
  ...scheduleEventInput(schedule, { task: 'schedules.report', kwargs }),
  scheduledTime,
});

describe(`Schedule events (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  let errors: jest.SpyInstance;
  const rows = () => db.sql<{ id: string; status: string; idempotency_key: string }>("select id, status, idempotency_key from task_record where task_name = 'schedules.report' order by enqueued_at");
  const worker = (schedules: Record<string, unknown>) => {
    process.env[SCHEDULES_ENV] = JSON.stringify(schedules);
    try {
      return createHandler({ tasks: [report], orm: db.orm });
    } finally {
      delete process.env[SCHEDULES_ENV];
    }
  };

  withLogs('error');
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'schedules' }));
  });
  beforeEach(async () => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    ran.length = 0;
    await db.sql("delete from task_record where task_name = 'schedules.report'");
  });
  afterEach(() => errors.mockRestore());
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
    expect(await rows()).toEqual([{ id: (first as { schedule: { taskId: string } }).schedule.taskId, status: TaskStatus.QUEUED, idempotency_key: 'schedule:daily-report:2026-11-30T09:00:00.000Z' }]);
    await deliver({ fauxqs, queue }, handle, { messages: await receiveMessages({ fauxqs, queue }, 1) });
    expect(await receiveMessages({ fauxqs, queue }, 1, { timeoutMs: 1_500 })).toEqual([]); // one message for the tick
    expect(ran).toHaveLength(1);
    await handle(tick('daily-report', { kind: 'daily' }, '2026-12-01T09:00:00Z'), lambdaContext());
    expect((await rows()).map((r) => r.status)).toEqual([TaskStatus.SUCCESS, TaskStatus.QUEUED]);
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
    expect((await rows()).map((r) => r.idempotency_key)).toEqual(['schedule:daily-report:2026-11-30T09:00:00.000Z']);
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
