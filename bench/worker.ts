// Worker throughput: N trivial tasks through the handler in batches of 10 against a raw `pg` loop issuing
// the same claim / transaction / outcome statements. Tasks/s for both, SQL round trips per task, p50/p99 per task.
import { Client } from 'pg';
import { z } from 'zod';
import { benchDatabase, countQueries, emit, percentile, run, scaled, summary } from './support';
import { configureLambdaTasks } from '../src/runtime/config';
import { createHandler } from '../src/runtime/handler';
import { lambdaTask } from '../src/runtime/lambda-task';
import { type SqsBatchResponse } from '../src/runtime/types';

const noop = lambdaTask({ name: 'bench.noop', args: z.object({ n: z.number() }) }, async ({ n }) => n);
console.info = console.error; // if LAMBDA_TASKS_LOG_LEVEL turns the library's lines on, they go to stderr: stdout carries the figures

async function seed(client: Client, n: number): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(
    `insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout)
     select id, 'bench.noop', jsonb_build_object('n', i), 'default', 'QUEUED', id, 300
       from (select gen_random_uuid() as id, i from generate_series(1, $1) as i) as s
     returning id`,
    [n],
  );
  return rows.map((r) => r.id);
}

run(async () => {
  const n = scaled(2000);
  const db = await benchDatabase({ poolMax: 4 });
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    configureLambdaTasks({ queues: { default: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench' } });
    const handler = createHandler({ tasks: [noop], orm: db.orm });
    const queries = countQueries(db.orm);

    // The library: batches of 10 through the handler.
    const ids = await seed(client, n);
    const handlerBatchMs: number[] = [];
    await handler({ Records: [] }, { getRemainingTimeInMillis: () => 900_000 });
    queries.reset();
    const handlerStarted = performance.now();
    for (let i = 0; i < ids.length; i += 10) {
      const records = ids.slice(i, i + 10).map((id, j) => ({
        messageId: `00000000-0000-4000-8000-${String(i + j).padStart(12, '0')}`,
        receiptHandle: 'rh',
        body: JSON.stringify({ task_id: id, task_name: 'bench.noop', kwargs: { n: i + j } }),
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
      }));
      const started = performance.now();
      const response = (await handler({ Records: records }, { getRemainingTimeInMillis: () => 900_000 })) as SqsBatchResponse;
      handlerBatchMs.push((performance.now() - started) / records.length);
      if (response.batchItemFailures.length > 0) throw new Error('unexpected batch item failures');
    }
    const handlerSeconds = (performance.now() - handlerStarted) / 1000;
    const roundTrips = queries.count / ids.length;

    // The floor: the same four statements per task over one pg connection.
    const rawIds = await seed(client, n);
    const rawTaskMs: number[] = [];
    const rawStarted = performance.now();
    for (const id of rawIds) {
      const started = performance.now();
      const claimed = await client.query(
        `update task_record set status = 'RUNNING', start_time = now(), message_id = $2, dispatched_at = coalesce(dispatched_at, now())
          where id = $1 and status = 'QUEUED' returning *`,
        [id, 'message'],
      );
      await client.query('begin');
      await client.query(
        `update task_record set status = 'SUCCESS', end_time = clock_timestamp(), result = $2::jsonb, traceback = null, note = null
          where id = $1 and status = 'RUNNING' and attempt = $3 returning id`,
        [id, JSON.stringify(claimed.rows[0].kwargs.n), claimed.rows[0].attempt],
      );
      await client.query('commit');
      rawTaskMs.push(performance.now() - started);
    }
    const rawSeconds = (performance.now() - rawStarted) / 1000;
    const { rows: left } = await client.query<{ n: number }>("select count(*)::int as n from task_record where status <> 'SUCCESS'");
    if (left[0].n !== 0) throw new Error(`${left[0].n} tasks did not succeed`);

    const throughput = emit('worker.tasks_per_second', ids.length / handlerSeconds, 'tasks/s', rawIds.length / rawSeconds);
    emit('worker.sql_round_trips_per_task', roundTrips, 'statements/task', 4);
    emit('worker.p50_ms_per_task', percentile(handlerBatchMs, 50), 'ms', percentile(rawTaskMs, 50));
    emit('worker.p99_ms_per_task', percentile(handlerBatchMs, 99), 'ms', percentile(rawTaskMs, 99));
    summary(`worker: ${throughput.value.toFixed(0)} tasks/s through the handler vs ${throughput.baseline} raw pg (ratio ${throughput.ratio}); ${roundTrips.toFixed(2)} SQL statements per task`);
  } finally {
    await client.end();
    await db.close();
  }
});
