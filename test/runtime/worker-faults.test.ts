import type { EntityManager } from '@mikro-orm/postgresql';
import fc from 'fast-check';
import { z } from 'zod';
import { createHandler, type TaskHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { decodeMessageBody } from '../../src/runtime/message';
import { type SqsBatchResponse } from '../../src/runtime/types';
import { account } from '../support/accounting';
import { engine, itOnPostgres, type TestDatabase } from '../support/database';
import { deliver, deliverAll, enqueue, receiveMessages } from '../support/delivery';
import { lambdaContext, sqsRecord } from '../support/events';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

let gate: Promise<void> = Promise.resolve();
let blockerPid: (pid: number) => void = () => undefined;

const work = lambdaTask({ name: 'faults.work', args: z.object({ n: z.number().int(), s: z.string().max(10).optional() }) }, async ({ n }, ctx) => {
  await (ctx.em as EntityManager).execute('insert into run_log (task_id) values (?)', [ctx.taskId]);
  return n;
});
const blocker = lambdaTask({ name: 'faults.blocker', args: z.object({}) }, async (_args, ctx) => {
  const [{ pid }] = await (ctx.em as EntityManager).execute<{ pid: number }[]>('select pg_backend_pid() as pid');
  await (ctx.em as EntityManager).execute('insert into run_log (task_id) values (?)', [ctx.taskId]);
  blockerPid(pid);
  await gate;
  await (ctx.em as EntityManager).execute('select 1');
  return 'survived';
});

describe(`Worker-level faults (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;

  /** What an operator's schedule does: maintenance, then the worker again, until the queue is empty. */
  async function recover(handle: TaskHandler): Promise<void> {
    await fauxqs.receive(queue.url); // a receive moves visible failed messages to the DLQ (maxReceiveCount 1)
    await handle({ lambdaTasks: 'maintenance', v: 1 }, lambdaContext());
    await deliverAll({ fauxqs, queue }, handle);
  }

  quietLogs();
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'faults' }));
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  it('the worker’s init throws for a whole batch: every message reaches the DLQ and the maintenance event recovers all of them', async () => {
    const ids = await enqueue(db, (em) => Array.from({ length: 7 }, (_, n) => work.executeOnCommit({ n }, { em })));
    const broken = createHandler({ tasks: [work], ormConfig: () => { throw new Error('cannot build the ORM config'); } });
    const messages = await receiveMessages({ fauxqs, queue }, 7);
    const { response } = await deliver({ fauxqs, queue }, broken, { messages });
    expect(response.batchItemFailures).toHaveLength(7);
    expect(await fauxqs.receive(queue.url)).toEqual([]); // visible at once, so this receive redrives them
    expect((await fauxqs.count(queue.dlqUrl)).total).toBe(7);
    await recover(createHandler({ tasks: [work], orm: db.orm }));
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
    expect((await fauxqs.count(queue.dlqUrl)).total).toBe(0);
  });

  itOnPostgres('the database connection drops in the middle of a batch: nothing is lost, nothing runs twice', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const pid = new Promise<number>((resolve) => (blockerPid = resolve));
    const ids = await enqueue(db, (em) => [
      work.executeOnCommit({ n: 1 }, { em }),
      blocker.executeOnCommit({}, { em }),
      ...[2, 3, 4, 5].map((n) => work.executeOnCommit({ n }, { em })),
    ]);
    const messages = await receiveMessages({ fauxqs, queue }, 6);
    const ordered = ids.map((id) => messages.find((m) => JSON.parse(m.Body!).task_id === id)!);
    const worker = createHandler({ tasks: [work, blocker], ormConfig: () => db.orm.config.getAll() as never });
    const delivering = deliver({ fauxqs, queue }, worker, { messages: ordered });
    await db.sql('select pg_terminate_backend(?)', [await pid]);
    release();
    await delivering;
    // A run whose outcome could not be written stays RUNNING until the sweep: make its time pass.
    await db.sql("update task_record set start_time = now() - interval '1 hour' where status = 'RUNNING'");
    await recover(createHandler({ tasks: [work, blocker], orm: db.orm }));
    await worker.close();
    const rows = await db.sql<{ status: string }>('select status from task_record where id in (?)', [ids]);
    expect(rows.filter((r) => r.status === 'RUNNING' || r.status === 'QUEUED')).toEqual([]);
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
  });

  it('1,000 generated bodies: batchItemFailures or a recorded outcome, never a crash, never a partial write', async () => {
    const handle = createHandler({ tasks: [work], orm: db.orm });
    const validKwargs = fc.record({ n: fc.integer(), s: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }) }, { requiredKeys: ['n'] });
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc.constant('x'.repeat(1_100_000)),
      fc.record({ task_name: fc.constantFrom('faults.work', 'nobody.knows', ''), kwargs: fc.oneof(validKwargs, fc.dictionary(fc.string(), fc.jsonValue()), fc.anything()) }),
      fc.record({ task_id: fc.uuid(), task_name: fc.constant('faults.work'), kwargs: validKwargs }),
      validKwargs.map((kwargs) => ({ task_name: 'faults.work', kwargs })),
    ).map((value) => (typeof value === 'string' ? value : JSON.stringify(value) ?? 'null'));
    const bodies = fc.sample(body, { numRuns: 1000, seed: 20261125 });
    const records = bodies.map((text) => sqsRecord(text, queue.arn));
    const expected = { failures: 0, succeeded: 0, failed: 0, skipped: 0 };
    const oracle = z.object({ n: z.number().int(), s: z.string().max(10).optional() }).strict();
    for (const record of records) {
      const decoded = decodeMessageBody(record.body);
      if (!decoded.ok || decoded.body.task_name !== 'faults.work') expected.failures++;
      else if (decoded.body.task_id) expected.skipped++;
      else if (oracle.safeParse(decoded.body.kwargs).success) expected.succeeded++;
      else expected.failed++;
    }
    let failures = 0;
    for (let i = 0; i < records.length; i += 10) {
      const response = (await handle({ Records: records.slice(i, i + 10) }, lambdaContext())) as SqsBatchResponse;
      expect(Object.keys(response)).toEqual(['batchItemFailures']);
      failures += response.batchItemFailures.length;
    }
    const messageIds = records.map((r) => r.messageId);
    const rows = await db.sql<{ status: string; runs: number }>(
      'select status, (select count(*)::int from run_log r where r.task_id = t.id) as runs from task_record t where t.id in (?)',
      [messageIds],
    );
    expect(failures).toBe(expected.failures);
    expect(rows.filter((r) => r.status === 'SUCCESS')).toHaveLength(expected.succeeded);
    expect(rows.filter((r) => r.status === 'FAILED')).toHaveLength(expected.failed);
    expect(rows).toHaveLength(expected.succeeded + expected.failed); // no row for what failed or was skipped
    expect(rows.filter((r) => r.status === 'FAILED' && r.runs > 0)).toEqual([]); // a FAILED run wrote nothing
    expect(rows.filter((r) => r.status === 'SUCCESS' && r.runs !== 1)).toEqual([]);
    expect(expected.failures * expected.succeeded * expected.failed * expected.skipped).toBeGreaterThan(0); // every path was exercised
  });
});
