// How the worker claims a batch: the deliveries its lanes start with in one statement, each later one in the
// statement that writes the SUCCESS of the task its lane ran before it (committed with that task, never before).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { z } from 'zod';
import { configureLambdaTasks } from '../../src/runtime/config';
import { prepareDelivery, runDelivery, type PreparedDelivery } from '../../src/runtime/delivery';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { TaskRecord } from '../../src/runtime/record';
import { claim, releaseClaim, type ClaimToken } from '../../src/runtime/records/claim';
import type { SqsBatchResponse } from '../../src/runtime/types';
import { createTestOrm, engine, itOnPostgres, type TestDatabase } from '../support/database';
import { lambdaContext, sqsRecord } from '../support/events';
import { countStatements } from '../support/statements';
import { insertQueuedRows } from '../support/task-rows';
import { quietLogs } from '../support/tasks-env';
import { waitFor } from '../support/wait-for';
import { START_TIMEOUT_MS } from '../support/worker-environment';

const ROOT = path.resolve(__dirname, '../..');

/** An app entity that references its task's row (a foreign key to task_record). */
class LinkedOrder {
  id!: number;
  task!: TaskRecord;
}
const LinkedOrderSchema = new EntitySchema<LinkedOrder>({
  class: LinkedOrder,
  tableName: 'linked_order',
  properties: { id: { type: 'integer', primary: true, autoincrement: true }, task: { kind: 'm:1', entity: () => TaskRecord, fieldName: 'task_id' } },
});

let db: TestDatabase;
const runs: string[] = [];
let duringRun: (id: string) => Promise<void> = async () => undefined;
const note = lambdaTask({ name: 'claims.note', args: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
  runs.push(ctx.taskId!);
  await duringRun(ctx.taskId!);
  return n;
});
const explode = lambdaTask({ name: 'claims.explode', args: z.object({}) }, async () => {
  throw new Error('kaboom');
});

const queued = (taskName: string, count: number): Promise<string[]> => insertQueuedRows(db, taskName, count);


const recordOf = (id: string, taskName = 'claims.note', n = 1) => sqsRecord(JSON.stringify({ task_id: id, task_name: taskName, kwargs: taskName === 'claims.note' ? { n } : {} }));
/** The statuses of `ids`, in their order. */
const statuses = async (ids: readonly string[]) => {
  const rows = await db.sql<{ id: string; status: string }>('select id, status from task_record where id in (?)', [ids]);
  return ids.map((id) => rows.find((r) => r.id === id)?.status ?? 'missing');
};

describe(`Claiming a batch (${engine})`, () => {
  quietLogs();
  beforeAll(async () => {
    db = await createTestOrm({ entities: [LinkedOrderSchema] });
    await db.sql('create table "linked_order" ("id" serial primary key, "task_id" uuid not null references "task_record" ("id"))');
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureLambdaTasks({ queues: { default: 'https://sqs.us-east-1.amazonaws.com/000000000000/claims' } });
    runs.length = 0;
    duringRun = async () => undefined;
  });
  afterAll(() => db?.close());

  itOnPostgres.each([1, 4])('a batch of 10 at concurrency %i costs 31 statements: one claim, then begin, SUCCESS (with the next claim), commit per task', async (concurrency) => {
    const handler = createHandler({ tasks: [note], orm: db.orm, concurrency });
    await handler({ Records: [] }, lambdaContext()); // warm: nothing to claim
    const ids = await queued('claims.note', 10);
    const statements = await countStatements(db.orm, async () => {
      const response = (await handler({ Records: ids.map((id, n) => recordOf(id, 'claims.note', n)) }, lambdaContext())) as SqsBatchResponse;
      expect(response.batchItemFailures).toEqual([]);
    });
    expect(await statuses(ids)).toEqual(Array(10).fill('SUCCESS'));
    expect([...runs].sort()).toEqual([...ids].sort());
    expect(statements).toBe(31);
  });

  itOnPostgres('the next delivery is claimed only when the task before it commits, and then carries its own message id', async () => {
    const handler = createHandler({ tasks: [note], orm: db.orm, concurrency: 1 });
    const [first, second] = await queued('claims.note', 2);
    const seen: string[] = [];
    duringRun = async (id) => {
      if (id === first) seen.push((await statuses([second]))[0]);
    };
    const records = [recordOf(first), recordOf(second)];
    expect(await handler({ Records: records }, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['QUEUED']);
    const rows = await db.sql<{ id: string; status: string; message_id: string; start_time: Date; end_time: Date }>(
      'select id, status, message_id, start_time, end_time from task_record where id in (?) order by start_time', [[first, second]],
    );
    expect(rows.map((r) => [r.id, r.status, r.message_id])).toEqual([[first, 'SUCCESS', records[0].messageId], [second, 'SUCCESS', records[1].messageId]]);
    expect(new Date(rows[1].start_time).getTime()).toBeGreaterThanOrEqual(new Date(rows[0].end_time).getTime() - 1);
  });

  it('after a task that fails, the next delivery is claimed on its own and runs', async () => {
    const handler = createHandler({ tasks: [note, explode], orm: db.orm, concurrency: 1 });
    const [bad] = await queued('claims.explode', 1);
    const [good] = await queued('claims.note', 1);
    expect(await handler({ Records: [recordOf(bad, 'claims.explode'), recordOf(good)] }, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(await statuses([bad])).toEqual(['FAILED']);
    expect(await statuses([good])).toEqual(['SUCCESS']);
  });

  itOnPostgres('when a task’s SUCCESS finds its row gone (swept meanwhile), the claim it carried is rolled back with it and the next delivery still runs', async () => {
    const handler = createHandler({ tasks: [note], orm: db.orm, concurrency: 1 });
    const [swept, next] = await queued('claims.note', 2);
    duringRun = async (id) => {
      if (id === swept) await db.sql("update task_record set status = 'FAILED', note = 'swept' where id = ?", [swept]);
    };
    expect(await handler({ Records: [recordOf(swept), recordOf(next)] }, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(await statuses([swept])).toEqual(['FAILED']);
    expect(await statuses([next])).toEqual(['SUCCESS']);
    expect(runs).toEqual([swept, next]);
  });

  it.each([1, 4])('the same task delivered twice in one batch (concurrency %i) runs once', async (concurrency) => {
    const handler = createHandler({ tasks: [note], orm: db.orm, concurrency });
    const [id, other] = await queued('claims.note', 2);
    const response = await handler({ Records: [recordOf(id), recordOf(id), recordOf(other), recordOf(id)] }, lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(runs.filter((r) => r === id)).toHaveLength(1);
    expect(await statuses([id, other])).toEqual(['SUCCESS', 'SUCCESS']);
  });

  it.each([2, 5])('the same SQS message %i times in one batch (same message id and body) runs once at that concurrency', async (copies) => {
    const handler = createHandler({ tasks: [note], orm: db.orm, concurrency: copies });
    const [id] = await queued('claims.note', 1);
    const record = recordOf(id);
    const response = await handler({ Records: Array.from({ length: copies }, (_, n) => ({ ...record, receiptHandle: `copy-${n}` })) }, lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(runs).toEqual([id]);
    expect(await statuses([id])).toEqual(['SUCCESS']);
  });

  /** An operator's transaction that holds a row lock (an uncommitted cancelTask) until `end` is called. */
  async function holdRowLock(id: string): Promise<{ end: (how: 'commit' | 'rollback') => Promise<void> }> {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query("update task_record set status = 'CANCELLED', end_time = now() where id = $1 and status = 'QUEUED'", [id]);
    return { end: async (how) => { try { await holder.query(how); } finally { await holder.end(); } } };
  }

  itOnPostgres('a finished task is not held by a lock someone else holds on the next delivery’s row: it commits SUCCESS, the next one is claimed on its own', async () => {
    const slow = lambdaTask({ name: 'claims.slowish', args: z.object({ n: z.number() }), softTimeout: 1, hardTimeout: 2 }, async (_args, ctx) => {
      runs.push(ctx.taskId!);
      return 'done';
    });
    const handler = createHandler({ tasks: [note, slow], orm: db.orm, concurrency: 1 });
    const [first] = await queued('claims.slowish', 1);
    const [second] = await queued('claims.note', 1);
    const lock = await holdRowLock(second);
    try {
      const handled = handler({ Records: [recordOf(first, 'claims.slowish'), recordOf(second)] }, lambdaContext());
      await waitFor(async () => !['QUEUED', 'RUNNING'].includes((await statuses([first]))[0]), 15_000);
      expect(await db.sql('select status, note, traceback from task_record where id = ?', [first])).toEqual([expect.objectContaining({ status: 'SUCCESS' })]); // before the fix: FAILED (hard timeout) after waiting on the lock
      await lock.end('commit');
      expect(await handled).toEqual({ batchItemFailures: [] });
    } finally {
      await lock.end('rollback').catch(() => undefined);
    }
    expect(runs).toEqual([first]); // the cancelled one never ran
    expect(await statuses([first, second])).toEqual(['SUCCESS', 'CANCELLED']);
  }, 30_000);

  itOnPostgres('one uncommitted cancel does not stall the batch’s first claim: the other lanes start', async () => {
    const handler = createHandler({ tasks: [note], orm: db.orm, concurrency: 3 });
    const ids = await queued('claims.note', 3);
    const lock = await holdRowLock(ids[1]);
    try {
      const handled = handler({ Records: ids.map((id) => recordOf(id)) }, lambdaContext());
      await waitFor(async () => (await statuses([ids[0], ids[2]])).every((s) => s === 'SUCCESS'), 15_000);
      await lock.end('rollback'); // the operator gives up: the row is QUEUED again and its own claim takes it
      expect(await handled).toEqual({ batchItemFailures: [] });
    } finally {
      await lock.end('rollback').catch(() => undefined);
    }
    expect(await statuses(ids)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect([...runs].sort()).toEqual([...ids].sort());
  }, 30_000);

  /** The token of the claim that holds `id` now (its message id and exact start time). */
  const tokenOf = async (id: string): Promise<ClaimToken> => {
    const [row] = await db.sql<{ message_id: string; micros: string }>('select message_id, (extract(epoch from start_time) * 1000000)::bigint::text as micros from task_record where id = ?', [id]);
    return { id, taskName: 'claims.note', messageId: row.message_id, startMicros: row.micros };
  };

  it('a delivery whose claim went out with the task before it, unconfirmed, runs the RUNNING row held by exactly that claim; nothing else does', async () => {
    const [id] = await queued('claims.note', 1);
    const em = () => db.orm.em.fork() as EntityManager;
    const record = recordOf(id);
    expect(await claim(em(), id, 'claims.note', record.messageId)).not.toBeNull(); // committed, but its worker did not learn it
    const token = await tokenOf(id);
    const prepared = prepareDelivery(record) as PreparedDelivery;
    const other = prepareDelivery({ ...record, messageId: 'another-message' }) as PreparedDelivery;
    expect(await runDelivery(em(), other, { claimInDoubt: { ...token, messageId: 'another-message' } })).toMatchObject({ kind: 'processed', status: 'skipped' });
    expect(await runDelivery(em(), prepared)).toMatchObject({ kind: 'processed', status: 'skipped' });
    // The same message with another claim (another invocation's receive of it): not its own.
    expect(await runDelivery(em(), prepared, { claimInDoubt: { ...token, startMicros: String(BigInt(token.startMicros) - 1n) } })).toMatchObject({ kind: 'processed', status: 'skipped' });
    expect(runs).toEqual([]);
    expect(await runDelivery(em(), prepared, { claimInDoubt: token })).toMatchObject({ kind: 'processed', status: 'SUCCESS' });
    expect(runs).toEqual([id]);
  });

  it('releaseClaim puts back only the claim it names: not another message’s, not another claim of the same message', async () => {
    const [id] = await queued('claims.note', 1);
    const em = db.orm.em.fork() as EntityManager;
    expect(await claim(em, id, 'claims.note', 'message-a')).not.toBeNull();
    const token = await tokenOf(id);
    expect(await releaseClaim(em, { ...token, messageId: 'message-b' })).toBe(false);
    expect(await releaseClaim(em, { ...token, startMicros: String(BigInt(token.startMicros) + 1n) })).toBe(false);
    expect(await statuses([id])).toEqual(['RUNNING']);
    expect(await releaseClaim(em, token)).toBe(true);
    expect(await statuses([id])).toEqual(['QUEUED']);
    expect(await claim(em, id, 'claims.note', 'message-b')).not.toBeNull();
  });

  it('an app row that references its task’s row commits with it: the task rows are written before the flush’s own', async () => {
    let id = '';
    await (db.orm.em.fork() as EntityManager).transactional(async (em) => {
      id = note.executeOnCommit({ n: 3 }, { em });
      em.persist(Object.assign(new LinkedOrder(), { task: em.getReference(TaskRecord, id) }));
    });
    expect(await db.sql('select "task_id" from "linked_order"')).toEqual([{ task_id: id }]);
    expect(await statuses([id])).toEqual(['QUEUED']);
  });

  itOnPostgres('executeOnCommit inside a transaction writes 1,000 tasks with one INSERT at the flush', async () => {
    let ids: string[] = [];
    let flushStatements = 0;
    await expect((db.orm.em.fork() as EntityManager).transactional(async (em) => {
      ids = Array.from({ length: 1000 }, (_, n) => note.executeOnCommit({ n }, { em }));
      flushStatements = await countStatements(db.orm, () => em.flush());
      throw new Error('roll back'); // nothing runs: the rows go with the transaction
    })).rejects.toThrow('roll back');
    expect(flushStatements).toBe(1);
    expect(new Set(ids).size).toBe(1000);
    expect(await db.sql('select id from task_record where id in (?)', [ids])).toEqual([]);
  });
});

describe('Loading the runtime', () => {
  it('does not load the AWS SDK until something is sent or a secret is read', () => {
    const script = `
      require('ts-node').register({ transpileOnly: true, project: 'tsconfig.dev.json' });
      const runtime = require('./src/runtime');
      const loaded = () => Object.keys(require.cache).filter((k) => /@aws-sdk[\\\\/]client-(sqs|secrets-manager)[\\\\/]/.test(k)).length;
      const before = loaded();
      runtime.configureLambdaTasks({ queues: { default: 'https://sqs.us-east-1.amazonaws.com/000000000000/q' } });
      require('./src/runtime/config').getSqsClient();
      process.stdout.write(JSON.stringify({ before, after: loaded() }));`;
    const output = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    const { before, after } = JSON.parse(output) as { before: number; after: number };
    expect(before).toBe(0);
    expect(after).toBeGreaterThan(0); // the check can fail: the client loads the SDK
  }, 60_000);
});
