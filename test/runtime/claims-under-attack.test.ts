// Adversarial probes (helper-written, 2026-12-03) of the batch claim (handler.ts batchItemsOf / claimFirstWave / takeClaimable), claim.ts
// (claimMany, completeAndClaim with skip locked, releaseClaim, findOwnClaim) and the deadline re-send.
// Runs are counted outside every transaction: an in-process array AND a row written on an autocommit connection.
import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { z } from 'zod';
import { configureLambdaTasks } from '../../src/runtime/config';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { runMaintenance } from '../../src/runtime/maintenance';
import type { SqsBatchResponse, SqsRecordLike } from '../../src/runtime/types';
import { createTestOrm, itOnPostgres, type TestDatabase } from '../support/database';
import { lambdaContext, sqsRecord } from '../support/events';
import { insertQueuedRows } from '../support/task-rows';
import { quietLogs } from '../support/tasks-env';
import { waitFor } from '../support/wait-for';
import { START_TIMEOUT_MS } from '../support/worker-environment';

let db: TestDatabase;
let sideConn: Client;
const runs: string[] = [];
/** Hooks per test: run inside the task function (inside its transaction). */
let duringRun: (id: string, ctx: { em: EntityManager }, n: number) => Promise<void> = async () => undefined;

async function logRun(id: string): Promise<void> {
  runs.push(id);
  await sideConn.query('insert into attack_side_effect (task_id) values ($1)', [id]);
}

const note = lambdaTask({ name: 'attack.note', args: z.object({ n: z.number() }), softTimeout: 4, hardTimeout: 5 }, async ({ n }, ctx) => {
  await logRun(ctx.taskId!);
  await duringRun(ctx.taskId!, ctx as unknown as { em: EntityManager }, n);
  return n;
});
/** Returns normally, but its transaction cannot commit: a deferred unique constraint fails at COMMIT (after the SUCCESS statement). */
const failsAtCommit = lambdaTask({ name: 'attack.failsAtCommit', args: z.object({ n: z.number() }), softTimeout: 4, hardTimeout: 5 }, async ({ n }, ctx) => {
  await logRun(ctx.taskId!);
  await (ctx.em as unknown as EntityManager).getConnection().execute('insert into attack_deferred (x) values (1), (1)', [], 'run', (ctx.em as unknown as EntityManager).getTransactionContext());
  return n;
});
const explode = lambdaTask({ name: 'attack.explode', args: z.object({ n: z.number() }) }, async (_a, ctx) => {
  await logRun(ctx.taskId!);
  throw new Error('kaboom');
});

const queued = (taskName: string, count: number): Promise<string[]> => insertQueuedRows(db, taskName, count, { hardTimeout: 5 });


const recordOf = (id: string, taskName = 'attack.note', n = 1) => sqsRecord(JSON.stringify({ task_id: id, task_name: taskName, kwargs: { n } }));
const statuses = async (ids: readonly string[]) => {
  const rows = await db.sql<{ id: string; status: string }>('select id, status from task_record where id in (?)', [ids]);
  return ids.map((id) => rows.find((r) => r.id === id)?.status ?? 'missing');
};
/** Runs per task id, from the autocommit side-effect table. */
const sideRuns = async (id: string) => (await db.sql<{ c: number }>('select count(*)::int as c from attack_side_effect where task_id = ?', [id]))[0].c;

describe('attack: batch claims', () => {
  quietLogs();
  beforeAll(async () => {
    db = await createTestOrm({ poolMax: 10 });
    await db.sql('create table attack_side_effect (id serial primary key, task_id uuid not null, at timestamptz not null default clock_timestamp())');
    await db.sql('create table attack_deferred (x int, constraint attack_deferred_u unique (x) deferrable initially deferred)');
    sideConn = new Client({ connectionString: db.url });
    await sideConn.connect();
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureLambdaTasks({ queues: { default: 'https://sqs.us-east-1.amazonaws.com/000000000000/attack' } });
    runs.length = 0;
    duringRun = async () => undefined;
  });
  afterAll(async () => {
    await sideConn?.end();
    await db?.close();
  });

  // ATTACK 1 (found, fixed): a duplicate delivery of the same SQS message (same message id and body) to a second invocation
  // while the first runs it. In the second invocation the task before it ends without committing its SUCCESS
  // statement (here: a deferred constraint fails at COMMIT; equally a killed connection or a hard timeout in the
  // SUCCESS statement). releaseClaim then matches the first invocation's RUNNING row by its message id, puts it back
  // to QUEUED, and the copy's own claim takes it: the attempt's function runs twice (I1).
  itOnPostgres('I1: releaseClaim / claimInDoubt in one invocation takes over the row another invocation is running for the same message', async () => {
    const [b] = await queued('attack.note', 1);
    const [a] = await queued('attack.failsAtCommit', 1);
    const recB = recordOf(b);
    const recBCopy: SqsRecordLike = { ...recB, receiptHandle: 'second-receive' }; // SQS at-least-once: same message, another receive
    let releaseFirst!: () => void;
    const firstMayEnd = new Promise<void>((resolve) => (releaseFirst = resolve));
    let bRuns = 0;
    duringRun = async (id) => {
      if (id === b && ++bRuns === 1) await firstMayEnd; // invocation 1's run of b stays in progress
    };
    const h1 = createHandler({ tasks: [note, failsAtCommit], orm: db.orm, concurrency: 1 });
    const h2 = createHandler({ tasks: [note, failsAtCommit], orm: db.orm, concurrency: 1 });
    const first = h1({ Records: [recB] }, lambdaContext());
    await waitFor(async () => runs.includes(b));
    const second = (await h2({ Records: [recordOf(a, 'attack.failsAtCommit'), recBCopy] }, lambdaContext())) as SqsBatchResponse;
    releaseFirst();
    const firstResult = (await first) as SqsBatchResponse;
    expect(second.batchItemFailures).toEqual([]);
    expect(firstResult.batchItemFailures).toEqual([]);
    expect(await statuses([a])).toEqual(['FAILED']); // its own error (the deferred unique violation): fine
    expect(await statuses([b])).toEqual(['SUCCESS']);
    expect({ inProcess: runs.filter((r) => r === b).length, onItsOwnConnection: await sideRuns(b) }).toEqual({ inProcess: 1, onItsOwnConnection: 1 });
  }, 30_000);

  // ATTACK 1b: the same with findOwnClaim alone (releaseClaim did not put it back): a copy in doubt runs any RUNNING
  // row carrying its message id, also one another invocation claimed for its own receive of that message.
  itOnPostgres('I1: findOwnClaim accepts a RUNNING row another invocation claimed for the same message id', async () => {
    const { prepareDelivery, runDelivery } = await import('../../src/runtime/delivery');
    const { claim } = await import('../../src/runtime/records/claim');
    const [b] = await queued('attack.note', 1);
    const recB = recordOf(b);
    // invocation 1 claimed b for its receive of the message, and is running it
    expect(await claim(db.orm.em.fork(), b, 'attack.note', recB.messageId)).not.toBeNull();
    // invocation 2: its copy's claim went out with the task before it, whose commit failed and whose release failed
    const prepared = prepareDelivery({ messageId: recB.messageId, body: recB.body }) as Exclude<ReturnType<typeof prepareDelivery>, { kind: string }>;
    // Its own claim (in doubt) was made earlier and undone: its token names a start time that is not the row's.
    const [held] = await db.sql<{ micros: string }>('select (extract(epoch from start_time) * 1000000)::bigint::text as micros from task_record where id = ?', [b]);
    const ownToken = { id: b, taskName: 'attack.note', messageId: recB.messageId, startMicros: String(BigInt(held.micros) - 1000n) };
    const result = await runDelivery(db.orm.em.fork(), prepared, { claimInDoubt: ownToken });
    expect(result).toMatchObject({ kind: 'processed', status: 'skipped' }); // before the fix: it runs b (SUCCESS) while invocation 1 runs it too
    expect(await sideRuns(b)).toBe(0);
  }, 30_000);

  // ATTACK 2 (probe): two invocations at once on overlapping batches (10 records, concurrency 4 each), the same ids,
  // both with the same message ids (duplicate receives) and with distinct ones (two sends). Expect each row once.
  itOnPostgres.each([[true], [false]])('two invocations on overlapping batches (same message ids: %s) run each row once', async (sameMessageIds) => {
    const ids = await queued('attack.note', 10);
    duringRun = async (_id, _ctx, n) => { if (n % 3 === 0) await new Promise((r) => setTimeout(r, 30)); };
    const batch1 = ids.map((id, n) => recordOf(id, 'attack.note', n));
    const batch2 = sameMessageIds ? [...batch1].reverse().map((r) => ({ ...r, receiptHandle: `${r.receiptHandle}-2` })) : [...ids].reverse().map((id, n) => recordOf(id, 'attack.note', n));
    const h1 = createHandler({ tasks: [note], orm: db.orm, concurrency: 4 });
    const h2 = createHandler({ tasks: [note], orm: db.orm, concurrency: 4 });
    const [r1, r2] = (await Promise.all([h1({ Records: batch1 }, lambdaContext()), h2({ Records: batch2 }, lambdaContext())])) as SqsBatchResponse[];
    expect([r1.batchItemFailures, r2.batchItemFailures]).toEqual([[], []]);
    expect(await statuses(ids)).toEqual(Array(10).fill('SUCCESS'));
    for (const id of ids) expect(await sideRuns(id)).toBe(1);
  }, 30_000);

  // ATTACK 3 (probe): duplicates in one batch: different message ids, mixed case ids, forged task names next to the
  // real copy, at concurrency 1..4.
  itOnPostgres.each([1, 2, 3, 4])('duplicates, mixed case and forged names in one batch at concurrency %i', async (concurrency) => {
    const [x, y, z2] = await queued('attack.note', 3);
    const h = createHandler({ tasks: [note, explode, failsAtCommit], orm: db.orm, concurrency });
    const recX = recordOf(x);
    const records: SqsRecordLike[] = [
      recordOf(x.toUpperCase()), // same row, another message id, upper case
      recordOf(x, 'attack.explode'), // forged name, another message id
      { ...recX, body: JSON.stringify({ task_id: x, task_name: 'attack.explode', kwargs: { n: 1 } }) }, // same message id, forged body
      recX,
      recordOf(y),
      { ...recX, receiptHandle: 'again' },
      recordOf(z2.toUpperCase()),
      recordOf(y.replace(/[a-f]/g, (c) => c.toUpperCase())),
      recordOf(z2),
    ];
    const response = (await h({ Records: records }, lambdaContext())) as SqsBatchResponse;
    expect(await statuses([x, y, z2])).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    for (const id of [x, y, z2]) expect(await sideRuns(id)).toBe(1);
    // forged copies are refused (DLQ); nothing else
    expect(response.batchItemFailures.length).toBeLessThanOrEqual(2);
  }, 30_000);

  /** An operator's transaction holding a lock on a row until `end`. */
  async function holdLock(sql: string, id: string): Promise<{ end: (how: 'commit' | 'rollback') => Promise<void> }> {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query(sql, [id]);
    let ended = false;
    return { end: async (how) => { if (ended) return; ended = true; try { await holder.query(how); } finally { await holder.end(); } } };
  }

  // ATTACK 4 (probe): locks on rows of the first wave and on the next delivery's row (select for update, then
  // released mid-batch), next to tasks that fail and throw, concurrency 2..4.
  itOnPostgres.each([2, 4])('rows locked (select for update) at the first wave and at the SUCCESS claim, released mid-batch (concurrency %i)', async (concurrency) => {
    const ids = await queued('attack.note', 6);
    const [bad] = await queued('attack.explode', 1);
    const [bad2] = await queued('attack.failsAtCommit', 1);
    const lock1 = await holdLock('select * from task_record where id = $1 for update', ids[1]);
    const lock2 = await holdLock('select * from task_record where id = $1 for update', ids[5]);
    try {
      const h = createHandler({ tasks: [note, explode, failsAtCommit], orm: db.orm, concurrency });
      const records = [recordOf(ids[0]), recordOf(ids[1]), recordOf(bad, 'attack.explode'), recordOf(ids[2]), recordOf(bad2, 'attack.failsAtCommit'), recordOf(ids[3]), recordOf(ids[4]), recordOf(ids[5])];
      const handled = h({ Records: records }, lambdaContext());
      await waitFor(async () => (await statuses([ids[0], ids[2]])).every((s) => s === 'SUCCESS'));
      await lock1.end('rollback');
      await waitFor(async () => (await statuses([ids[1]]))[0] === 'SUCCESS');
      await lock2.end('commit');
      expect(((await handled) as SqsBatchResponse).batchItemFailures).toEqual([]);
    } finally {
      await lock1.end('rollback').catch(() => undefined);
      await lock2.end('rollback').catch(() => undefined);
    }
    expect(await statuses(ids)).toEqual(Array(6).fill('SUCCESS'));
    expect(await statuses([bad, bad2])).toEqual(['FAILED', 'FAILED']);
    for (const id of ids) expect(await sideRuns(id)).toBe(1);
  }, 40_000);

  // ATTACK 5 (found and fixed, I3): an operator holds a lock on the RUNNING row itself (select ... for update) past
  // the task's hard timeout; the task's function returned at once, its SUCCESS statement waits for the lock, and the
  // task is recorded FAILED (HardTimeLimitExceeded) because of a lock someone else holds.
  itOnPostgres('I3: a lock an operator holds on the running row makes a returned task FAILED', async () => {
    const [x] = await queued('attack.note', 1);
    let lock: { end: (how: 'commit' | 'rollback') => Promise<void> } | undefined;
    duringRun = async (id) => {
      if (id === x) lock = await holdLock('select * from task_record where id = $1 for update', x);
    };
    const h = createHandler({ tasks: [note], orm: db.orm, concurrency: 1 });
    const handled = h({ Records: [recordOf(x)] }, lambdaContext());
    try {
      // wait until the task's SUCCESS statement waits for the operator's lock, then past the hard timeout (5 s)
      await waitFor(async () => (await db.sql<{ c: number }>("select count(*)::int as c from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%SUCCESS%'"))[0].c > 0);
      await new Promise((r) => setTimeout(r, 5_500)); // the hard timeout is a clock: nothing to poll before it
      await lock!.end('commit');
      await handled;
    } finally {
      await lock?.end('rollback').catch(() => undefined);
    }
    const [row] = await db.sql<{ status: string; note: string | null }>('select status, note from task_record where id = ?', [x]);
    expect(row).toEqual(expect.objectContaining({ status: 'SUCCESS' })); // before the fix: FAILED, note 'hard timeout'
  }, 30_000);

  // ATTACK 5b (found and fixed, I3): the same lock taken by the library's own retryTask: an admin action retries a list of
  // tasks in one transaction and reports the ones it cannot retry (TaskStateError for a RUNNING one) — retryTask has
  // locked the RUNNING row `for update` before refusing, and the lock stays until that transaction ends.
  itOnPostgres('I3: an uncommitted retryTask of a RUNNING task (refused) does not hold that task: it commits SUCCESS meanwhile', async () => {
    const { retryTask } = await import('../../src/runtime/replay');
    const [x] = await queued('attack.note', 1);
    let endOperator!: () => void;
    const operatorMayEnd = new Promise<void>((resolve) => (endOperator = resolve));
    let operator: Promise<unknown> | undefined;
    let refused: unknown;
    duringRun = async (id) => {
      if (id !== x) return;
      let locked!: () => void;
      const lockedNow = new Promise<void>((resolve) => (locked = resolve));
      operator = (db.orm.em.fork() as EntityManager).transactional(async (tem) => {
        try {
          await retryTask(tem, x);
        } catch (error) {
          refused = error; // "the task is RUNNING": reported, the admin transaction goes on
        }
        locked();
        await operatorMayEnd; // ... other work of the admin request
      });
      await lockedNow;
    };
    const h = createHandler({ tasks: [note], orm: db.orm, concurrency: 1 });
    const handled = h({ Records: [recordOf(x)] }, lambdaContext());
    try {
      // retryTask takes no row lock (an advisory lock on the root): the task commits SUCCESS while the operator's transaction is open.
      await waitFor(async () => (await statuses([x]))[0] === 'SUCCESS', 15_000, 'SUCCESS while the operator transaction is open');
    } finally {
      endOperator();
    }
    await operator;
    await handled;
    expect(String(refused)).toContain('RUNNING');
    expect(await sideRuns(x)).toBe(1);
    const [row] = await db.sql<{ status: string; note: string | null }>('select status, note from task_record where id = ?', [x]);
    expect(row).toEqual(expect.objectContaining({ status: 'SUCCESS' })); // before the fix: FAILED, note 'hard timeout'
  }, 30_000);

  // ATTACK 8 (probe): a hard timeout in one lane next to skipped duplicates, a locked row and a failing task: the
  // rest of the batch is re-sent (stubbed), nothing is left RUNNING, nothing runs twice.
  itOnPostgres.each([1, 3])('a hard timeout next to skipped rows (concurrency %i)', async (concurrency) => {
    const sqsModule = await import('../../src/runtime/sqs');
    const sent: string[] = [];
    const spy = jest.spyOn(sqsModule, 'resendMessage').mockImplementation(async (_url, body) => { sent.push(JSON.parse(body).task_id); });
    const hang = lambdaTask({ name: 'attack.hang', args: z.object({ n: z.number() }), softTimeout: 1, hardTimeout: 2 }, async (_a, ctx) => {
      await logRun(ctx.taskId!);
      await new Promise((r) => setTimeout(r, 4_000));
      return 1;
    });
    try {
      const [h1] = await queued('attack.hang', 1);
      await db.sql('update task_record set hard_timeout = 2 where id = ?', [h1]);
      const ids = await queued('attack.note', 4);
      const [bad] = await queued('attack.explode', 1);
      const lock = await holdLock('select * from task_record where id = $1 for update', ids[3]);
      const h = createHandler({ tasks: [note, explode, hang], orm: db.orm, concurrency });
      const recH = recordOf(h1, 'attack.hang');
      duringRun = async (_id, _ctx, n) => { await new Promise((r) => setTimeout(r, 300 * n)); };
      const handled = h({ Records: [recH, { ...recH, receiptHandle: 'x' }, recordOf(ids[0]), recordOf(bad, 'attack.explode'), recordOf(ids[1]), recordOf(ids[0]), recordOf(ids[2]), recordOf(ids[3])] }, lambdaContext());
      await waitFor(async () => (await statuses([h1]))[0] === 'FAILED');
      await lock.end('rollback');
      const response = (await handled) as SqsBatchResponse;
      expect(response.batchItemFailures).toEqual([]);
      const all = [h1, ...ids, bad];
      const st = await statuses(all);
      expect(st.filter((s) => s === 'RUNNING')).toEqual([]);
      for (const [i, id] of all.entries()) {
        const count = await sideRuns(id);
        expect(count).toBeLessThanOrEqual(1);
        if (st[i] === 'QUEUED') expect(sent).toContain(id); // left QUEUED only with a copy in flight
      }
    } finally {
      spy.mockRestore();
    }
  }, 40_000);

  // ATTACK 6 (found and fixed, I2/I3 — MikroORM 6): the task's connection is killed (pg_terminate_backend) while its COMMIT
  // runs, after the SUCCESS statement that carried the next delivery's claim. The next delivery runs once (fine), but
  // the killed task's FAILED is written on the same dead connection (the knex seam has no releaseBrokenConnections),
  // so its row stays RUNNING until the sweep (hard timeout + 60 s; up to 16 min) and then ends as "worker lost"
  // instead of FAILED with its own error.
  itOnPostgres.each([[true], [false]])('a connection killed at COMMIT (a next delivery in the batch: %s)', async (withNext) => {
    await db.sql('create or replace function attack_slow_commit() returns trigger language plpgsql as $$ begin perform pg_sleep(2); return null; end $$');
    await db.sql('create table if not exists attack_slow (x int)');
    await db.sql('drop trigger if exists attack_slow_t on attack_slow');
    await db.sql('create constraint trigger attack_slow_t after insert on attack_slow deferrable initially deferred for each row execute function attack_slow_commit()');
    const [x, y] = await queued('attack.note', 2);
    duringRun = async (id, ctx) => {
      if (id === x) await ctx.em.getConnection().execute('insert into attack_slow (x) values (1)', [], 'run', ctx.em.getTransactionContext());
    };
    const h = createHandler({ tasks: [note], orm: db.orm, concurrency: 1 });
    const handled = h({ Records: withNext ? [recordOf(x), recordOf(y)] : [recordOf(x)] }, lambdaContext());
    await waitFor(async () => (await db.sql<{ c: number }>("select count(*)::int as c from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'"))[0].c > 0);
    await db.sql("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'");
    expect(((await handled) as SqsBatchResponse).batchItemFailures).toEqual([]);
    if (withNext) {
      expect(await statuses([y])).toEqual(['SUCCESS']);
      expect(await sideRuns(y)).toBe(1);
    }
    expect(await sideRuns(x)).toBe(1);
    const [row] = await db.sql<{ status: string; traceback: string | null }>('select status, traceback from task_record where id = ?', [x]);
    expect(row.status).toBe('FAILED'); // before the fix: RUNNING (its outcome went to the dead connection), FAILED only by the sweep
  }, 30_000);

  // ATTACK 9 (probe): seeded random programs — two invocations at once, batches of 1..10 drawn from a pool of rows
  // (copies with the same message id / another message id / upper-case id / forged name, bodies without task_id,
  // tasks that throw), concurrency 1..4, one row locked for update by an operator and released mid-batch. The known
  // trigger of ATTACK 1 (a commit failing after the SUCCESS statement) is left out to look for anything else.
  itOnPostgres.each([[false], [true]])('random programs (with tasks whose COMMIT fails: %s): each row runs at most once and ends', async (commitFailures) => {
    let seed = 20261203;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const h = [1, 2, 3, 4].map((c) => createHandler({ tasks: [note, explode, failsAtCommit], orm: db.orm, concurrency: c }));
    for (let program = 0; program < Number(process.env.ATTACK_PROGRAMS ?? 25); program++) {
      const notes = await queued('attack.note', 5);
      const [bad] = await queued('attack.explode', 1);
      const base: SqsRecordLike[] = [...notes.map((id) => recordOf(id)), recordOf(bad, 'attack.explode')];
      const atCommit = commitFailures ? await queued('attack.failsAtCommit', 2) : [];
      base.push(...atCommit.map((id) => recordOf(id, 'attack.failsAtCommit')));
      const foreign = sqsRecord(JSON.stringify({ task_name: 'attack.note', kwargs: { n: 9 } }));
      const copyOf = (r: SqsRecordLike): SqsRecordLike => {
        const body = JSON.parse(r.body) as { task_id: string; task_name: string };
        switch (Math.floor(rnd() * 4)) {
          case 0: return { ...r, receiptHandle: `${r.receiptHandle}-${rnd()}` }; // same message, another receive
          case 1: return recordOf(body.task_id, body.task_name); // another send
          case 2: return recordOf(body.task_id.toUpperCase(), body.task_name);
          default: return { ...r, body: JSON.stringify({ ...body, task_name: body.task_name === 'attack.note' ? 'attack.explode' : 'attack.note', kwargs: { n: 1 } }) }; // forged
        }
      };
      const batch = (): SqsRecordLike[] => {
        const out = [...base].sort(() => rnd() - 0.5).slice(0, 1 + Math.floor(rnd() * 6));
        while (out.length < 10 && rnd() < 0.6) out.push(copyOf(pick(base)));
        if (rnd() < 0.5) out.push(foreign, { ...foreign, receiptHandle: `f-${rnd()}` });
        return out.sort(() => rnd() - 0.5).slice(0, 10);
      };
      const b1 = batch();
      const b2 = batch();
      const lock = rnd() < 0.5 ? await holdLock('select * from task_record where id = $1 for update', pick(notes)) : undefined;
      const both = Promise.all([pick(h)({ Records: b1 as never }, lambdaContext()), pick(h)({ Records: b2 as never }, lambdaContext())]);
      if (lock) {
        await new Promise((r) => setTimeout(r, 20));
        await lock.end(rnd() < 0.5 ? 'commit' : 'rollback');
      }
      const responses = (await both) as SqsBatchResponse[];
      // every genuine row that was in some batch ran at most once and is not left RUNNING
      const genuine = (r: SqsRecordLike) => { const b = JSON.parse(r.body) as { task_id?: string; task_name: string }; if (!b.task_id) return true; const id = b.task_id.toLowerCase(); return b.task_name === (id === bad ? 'attack.explode' : atCommit.includes(id) ? 'attack.failsAtCommit' : 'attack.note'); };
      const inBatch = new Set([...b1, ...b2].filter(genuine).map((r) => (JSON.parse(r.body) as { task_id?: string }).task_id?.toLowerCase() ?? r.messageId));
      for (const id of [...notes, bad, ...atCommit, foreign.messageId]) {
        const runsOf = await sideRuns(id);
        const [status] = await statuses([id]);
        const copies = [b1, b2].map((b, i) => b.filter((r) => r.body.toLowerCase().includes(id) || r.messageId === id).map((r) => `inv${i}:${r.messageId.slice(-4)}:${JSON.parse(r.body).task_name}:${(JSON.parse(r.body).task_id ?? 'none').slice(0, 4)}:${responses[i].batchItemFailures.some((f) => f.itemIdentifier === r.messageId) ? 'FAILED-ITEM' : 'ok'}`));
        const msg = `program ${program}: ${id} ${status} runs=${runsOf} ${JSON.stringify(copies)} lock=${lock ? 'y' : 'n'}`;
        expect([msg, runsOf <= 1]).toEqual([msg, true]);
        expect([msg, status === 'RUNNING']).toEqual([msg, false]);
        if (inBatch.has(id)) expect([msg, ['SUCCESS', 'FAILED'].includes(status)]).toEqual([msg, true]);
      }
    }
  }, 120_000);

  // ATTACK 10 (found and fixed, I2): a body without task_id whose deadline re-send fails goes to the DLQ (as designed); its row
  // (keyed by the message id) is QUEUED with dispatched_at set. The DLQ reconciliation finds that row QUEUED and
  // re-sends the dead letter's body unchanged — still without task_id — so its delivery inserts a second row under its
  // new message id and runs that; the first row stays QUEUED for ever (the relay sends only rows never dispatched).
  itOnPostgres('I2: a dead letter without task_id re-sent by the reconciliation leaves its QUEUED row for ever', async () => {
    const sqsModule = await import('../../src/runtime/sqs');
    const { reconcileDeadLetters } = await import('../../src/runtime/dead-letters');
    const { relayQueuedTasks } = await import('../../src/runtime/relay');
    const { sweepLostTasks } = await import('../../src/runtime/sweep');
    configureLambdaTasks({ queues: { default: { url: 'https://sqs.us-east-1.amazonaws.com/000000000000/attack', dlqUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/attack-dlq' } } });
    const resent: string[] = [];
    const spies: { mockRestore(): void }[] = [
      jest.spyOn(sqsModule, 'resendMessage').mockRejectedValue(new Error('SQS unavailable')),
      jest.spyOn(sqsModule, 'releaseMessages').mockResolvedValue(undefined),
      jest.spyOn(sqsModule, 'sendMessage').mockImplementation(async (_url, body) => { resent.push(body); }),
      jest.spyOn(sqsModule, 'deleteMessages').mockResolvedValue(undefined),
    ];
    try {
      const foreign = sqsRecord(JSON.stringify({ task_name: 'attack.note', kwargs: { n: 11 } }));
      const h = createHandler({ tasks: [note], orm: db.orm, concurrency: 1 });
      // 1. too little time: the row is made, put back to QUEUED, the re-send fails: the message goes to the DLQ
      expect(await h({ Records: [foreign] }, lambdaContext({ remainingMs: 3_000 }))).toEqual({ batchItemFailures: [{ itemIdentifier: foreign.messageId }] });
      expect(await statuses([foreign.messageId])).toEqual(['QUEUED']);
      // 2. the reconciliation reads the dead letter (SQS keeps its message id) and re-sends it
      const receive = jest.spyOn(sqsModule, 'receiveMessages').mockResolvedValueOnce([{ MessageId: foreign.messageId, ReceiptHandle: 'dlq-1', Body: foreign.body }]).mockResolvedValue([]);
      spies.push(receive);
      expect(await reconcileDeadLetters({ em: db.orm.em.fork() })).toMatchObject({ resent: 1 });
      // 3. its delivery, under a new message id, with time enough
      const copy = sqsRecord(resent[0]);
      expect(await h({ Records: [copy] }, lambdaContext())).toEqual({ batchItemFailures: [] });
      // 4. maintenance to quiescence: relay and sweep
      await relayQueuedTasks({ em: db.orm.em.fork(), olderThanSeconds: 0 });
      await sweepLostTasks({ em: db.orm.em.fork(), marginSeconds: 0 });
      const rows = await db.sql<{ id: string; status: string }>("select id, status from task_record where kwargs = '{\"n\": 11}'::jsonb order by enqueued_at");
      expect(await sideRuns(foreign.messageId) + await sideRuns(copy.messageId)).toBe(1); // I1 holds
      expect(rows).toEqual([{ id: foreign.messageId, status: 'SUCCESS' }]); // before the fix: [{ M, QUEUED }, { M', SUCCESS }]
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  }, 30_000);

  // ATTACK 7 (probe): deadline re-sends of bodies without task_id, duplicated in the batch (same message id) and
  // with a second foreign body under another message id; nothing may stay QUEUED after maintenance's reconcile? Here
  // we only check the rows and the bodies the re-sends name (the SQS client is stubbed).
  itOnPostgres('deadline re-send of duplicated bodies without task_id names one row each', async () => {
    const sqsModule = await import('../../src/runtime/sqs');
    const sent: { body: string }[] = [];
    const spy = jest.spyOn(sqsModule, 'resendMessage').mockImplementation(async (_url, body) => { sent.push({ body }); });
    try {
      const foreign = JSON.stringify({ task_name: 'attack.note', kwargs: { n: 7 } });
      const r1 = sqsRecord(foreign);
      const r2 = sqsRecord(foreign);
      const h = createHandler({ tasks: [note], orm: db.orm, concurrency: 2 });
      const response = (await h({ Records: [r1, { ...r1, receiptHandle: 'dup' }, r2, { ...r2, receiptHandle: 'dup2' }] }, lambdaContext({ remainingMs: 3_000 }))) as SqsBatchResponse;
      expect(response.batchItemFailures).toEqual([]);
      expect(await statuses([r1.messageId, r2.messageId])).toEqual(['QUEUED', 'QUEUED']);
      expect(sent.map((s) => JSON.parse(s.body).task_id).sort()).toEqual([r1.messageId, r2.messageId].sort());
      // the re-sent copies arrive (another message id each) together with a late duplicate of the original
      const copies = sent.map((s) => sqsRecord(s.body));
      const late = { ...r1, receiptHandle: 'late' };
      const again = (await h({ Records: [late, ...copies, { ...copies[0], receiptHandle: 'c0' }] }, lambdaContext())) as SqsBatchResponse;
      expect(again.batchItemFailures).toEqual([]);
      expect(await statuses([r1.messageId, r2.messageId])).toEqual(['SUCCESS', 'SUCCESS']);
      expect([await sideRuns(r1.messageId), await sideRuns(r2.messageId)]).toEqual([1, 1]);
    } finally {
      spy.mockRestore();
    }
  }, 30_000);
});

void runMaintenance;
