// Worker throughput, interleaved against two baselines in the same run:
// - worker.ratio_to_raw.c1 / .c4: trivial tasks through the handler (createHandler with an ORM), SQS batches
//   of 10 handed to it, concurrency 1 and 4, against a raw `pg` loop issuing the same statements (the lanes'
//   first deliveries claimed in one statement; per task begin, SUCCESS update claiming the lane's next delivery,
//   commit) at the same concurrency over a pool of the same size (concurrency + 1). Value and baseline: tasks/s.
// - worker.round_trips_per_task: statements sent to PostgreSQL per task through the handler (counted on
//   pg.Client#query), against the raw loop's count.
// - worker.ratio_to_graphile.c4: tasks/s through the handler at concurrency 4 against graphile-worker 0.17
//   running the same trivial task at concurrency 4 on the same database (jobs added in one add_jobs call,
//   timed from that commit to the last job:success). The handler gets its messages handed to it: no SQS hop.
import { Logger, run as runGraphile, runMigrations, type Runner } from 'graphile-worker';
import { Pool } from 'pg';
import { z } from 'zod/v4';
import { benchDatabase, countStatements, emit, interleave, ROUNDS, run, scaled, summary, timed } from './support';
import { configureLambdaTasks } from '../src/runtime/config';
import { createHandler, type TaskHandler } from '../src/runtime/handler';
import { lambdaTask } from '../src/runtime/lambda-task';
import type { SqsBatchResponse, SqsRecordLike } from '../src/runtime/types';

const noop = lambdaTask({ name: 'bench.noop', args: z.object({ n: z.number() }) }, async ({ n }) => n);
const context = { getRemainingTimeInMillis: () => 900_000 };
const silent = new Logger(() => () => undefined);

async function seed(pool: Pool, n: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout)
     select id, 'bench.noop', jsonb_build_object('n', i), 'default', 'QUEUED', id, 300
       from (select gen_random_uuid() as id, i from generate_series(1, $1) as i) as s
     returning id`,
    [n],
  );
  return rows.map((r) => r.id);
}

const batchesOf = <T>(items: readonly T[]) => Array.from({ length: Math.ceil(items.length / 10) }, (_, i) => items.slice(i * 10, i * 10 + 10));

/** The handler, fed SQS batches of 10 one after the other (one container). Returns tasks/s. */
async function throughHandler(handler: TaskHandler, ids: readonly string[]): Promise<number> {
  const ms = await timed(async () => {
    for (const batch of batchesOf(ids)) {
      const records: SqsRecordLike[] = batch.map((id, j) => ({
        messageId: `00000000-0000-4000-8000-${String(j).padStart(12, '0')}`,
        receiptHandle: 'rh',
        body: JSON.stringify({ task_id: id, task_name: 'bench.noop', kwargs: { n: j } }),
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
      }));
      const response = (await handler({ Records: records }, context)) as SqsBatchResponse;
      if (response.batchItemFailures.length > 0) throw new Error('unexpected batch item failures');
    }
  });
  return ids.length / (ms / 1000);
}

/**
 * The floor: the handler's statements with `pg`, the same batches and lanes: the deliveries the lanes start with
 * claimed in one statement; then per task begin, its SUCCESS update (which also claims the lane's next delivery,
 * as the handler does), commit. Returns tasks/s.
 */
async function throughRawLoop(pool: Pool, ids: readonly string[], concurrency: number): Promise<number> {
  const ms = await timed(async () => {
    for (const batch of batchesOf(ids)) {
      const first = batch.slice(0, concurrency);
      const claimed = new Map<string, { kwargs: { n: number }; attempt: number }>();
      const claim = await pool.query(
        `update task_record as t set status = 'RUNNING', start_time = now(), message_id = m.message_id, dispatched_at = coalesce(t.dispatched_at, now())
           from unnest($1::uuid[], $2::text[], $3::text[]) as m(id, task_name, message_id)
          where t.id = any($1::uuid[]) and t.id = m.id and t.status = 'QUEUED' and t.task_name = m.task_name returning t.*`,
        [first, first.map(() => 'bench.noop'), first.map((_, j) => `message-${j}`)],
      );
      for (const row of claim.rows) claimed.set(row.id, row);
      let next = first.length;
      const lane = async (id: string): Promise<void> => {
        const row = claimed.get(id)!;
        const following = next < batch.length ? batch[next++] : undefined;
        const client = await pool.connect();
        try {
          await client.query('begin');
          if (following) {
            const { rows } = await client.query(
              `with outcome as (update task_record set status = 'SUCCESS', end_time = clock_timestamp(), result = $1::jsonb, traceback = null, note = null
                                 where id = $2 and status = 'RUNNING' and attempt = $3 returning id),
                    claimed as (update task_record set status = 'RUNNING', start_time = clock_timestamp(), message_id = $4, dispatched_at = coalesce(dispatched_at, clock_timestamp())
                                 where id = $5 and status = 'QUEUED' and task_name = $6 returning *)
               select (select count(*) from outcome)::int as completed, (select row_to_json(c) from claimed as c) as next`,
              [JSON.stringify(row.kwargs.n), id, row.attempt, `message-${following}`, following, 'bench.noop'],
            );
            claimed.set(following, rows[0].next);
          } else {
            await client.query(
              `update task_record set status = 'SUCCESS', end_time = clock_timestamp(), result = $2::jsonb, traceback = null, note = null
                where id = $1 and status = 'RUNNING' and attempt = $3 returning id`,
              [id, JSON.stringify(row.kwargs.n), row.attempt],
            );
          }
          await client.query('commit');
        } finally {
          client.release();
        }
        if (following) await lane(following);
      };
      await Promise.all(first.map(lane));
    }
  });
  return ids.length / (ms / 1000);
}

run(async () => {
  const n = scaled(1000);
  const db = await benchDatabase({ poolMax: 5, tag: 'worker' });
  const pools = [new Pool({ connectionString: db.url, max: 2 }), new Pool({ connectionString: db.url, max: 5 })];
  const statements = countStatements();
  let runner: Runner | undefined;
  try {
    configureLambdaTasks({ queues: { default: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench' } });
    const admin = pools[1];
    const handlers = new Map([1, 4].map((c) => [c, createHandler({ tasks: [noop], orm: db.orm, concurrency: c })]));
    const sides = (c: number) => ({
      raw: async () => throughRawLoop(c === 1 ? pools[0] : pools[1], await seed(admin, n), c),
      library: async () => throughHandler(handlers.get(c)!, await seed(admin, n)),
    });
    for (const c of [1, 4]) {
      const { raw, library } = sides(c);
      const result = await interleave(ROUNDS, raw, library);
      const figure = emit(`worker.ratio_to_raw.c${c}`, result.subject, { unit: 'tasks/s', baseline: result.baseline, aim: '>= 0.8', ormDependent: true });
      summary(`worker c${c}: ${figure.value} tasks/s through the handler vs ${figure.baseline} raw pg (ratio ${figure.ratio}, spread ${figure.spread})`);
    }

    // Statements per task (one untimed pass of each).
    const probe = await seed(admin, 100);
    statements.reset();
    await throughHandler(handlers.get(4)!, probe);
    const libraryStatements = statements.count / probe.length;
    const rawProbe = await seed(admin, 100);
    statements.reset();
    await throughRawLoop(pools[1], rawProbe, 4);
    const rawStatements = statements.count / rawProbe.length;
    emit('worker.round_trips_per_task', libraryStatements, { unit: 'statements/task', baseline: rawStatements, aim: '<= 3.2', ormDependent: true });

    // graphile-worker at concurrency 4 on the same database, against the handler at 4.
    await runMigrations({ connectionString: db.url, logger: silent });
    let done = 0;
    let waiter: (() => void) | undefined;
    let target = 0;
    runner = await runGraphile({
      connectionString: db.url,
      concurrency: 4,
      logger: silent,
      noHandleSignals: true,
      pollInterval: 1000,
      taskList: { 'bench.noop': async () => undefined },
    });
    runner.events.on('job:success', () => {
      if (++done === target) waiter?.();
    });
    const graphile = async () => {
      done = 0;
      target = n;
      const finished = new Promise<void>((resolve) => (waiter = resolve));
      const ms = await timed(async () => {
        await admin.query(
          "select graphile_worker.add_jobs(array(select row('bench.noop', json_build_object('n', i), null, null, null, null, null, null)::graphile_worker.job_spec from generate_series(1, $1) as i))",
          [n],
        );
        await finished;
      });
      return n / (ms / 1000);
    };
    const peer = await interleave(ROUNDS, graphile, sides(4).library);
    const figure = emit('worker.ratio_to_graphile.c4', peer.subject, { unit: 'tasks/s', baseline: peer.baseline, aim: '>= 0.7', ormDependent: true });
    summary(`worker c4: ${figure.value} tasks/s through the handler vs graphile-worker ${figure.baseline} (ratio ${figure.ratio}); ${libraryStatements.toFixed(2)} statements per task vs ${rawStatements.toFixed(2)} raw`);
    await Promise.all([...handlers.values()].map((h) => h.close()));
  } finally {
    statements.stop();
    await runner?.stop();
    await Promise.all(pools.map((p) => p.end()));
    await db.close();
  }
});
