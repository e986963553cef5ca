// Cold start to the first handled message: a fresh `node` requires the worker bundle of a consumer's task module
// (bench/fixtures/worker.ts, built as the construct builds it) and handles one SQS message against PostgreSQL,
// against the floor bundle (bench/fixtures/floor-worker.ts: the same entity, schema and task body behind a
// hand-written handler) doing the same. Time is measured inside the child, from before require() of the bundle
// to the handler's resolved promise (process start-up excluded), interleaved rounds, a fresh task row each.
// Database work of one message — library: claim update of its task_record row (returning the row), a
// transaction with the task (select + update of bench_order) and the SUCCESS update; floor: a claim update of
// a task_record row, a transaction with the task and a SUCCESS update. Both init MikroORM on the first message.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { bundleFixtures, projectTempDir, ROOT, type FixtureBundle } from './fixtures/bundle-fixtures';
import { benchDatabase, emit, interleave, ROUNDS, run, summary } from './support';
import { DEFAULT_METRICS_NAMESPACE, METRICS_ENV, QUEUES_ENV } from '../src/runtime/contract';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/bench';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:bench';

/** The child: require the bundle, handle the event in BENCH_EVENT, print the elapsed ms (stdout also gets the bundle's EMF lines). */
const CHILD = `
  const started = process.hrtime.bigint();
  const { handler } = require(process.env.BENCH_BUNDLE);
  handler(JSON.parse(process.env.BENCH_EVENT), { getRemainingTimeInMillis: () => 900000 }).then(
    (response) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (response.batchItemFailures.length > 0) { console.error('batch item failures', response.batchItemFailures); process.exit(2); }
      process.stdout.write('\\nELAPSED=' + ms + '\\n');
      process.exit(0);
    },
    (error) => { console.error(error); process.exit(3); });`;

/** The worker's environment as the construct sets it (and Lambda sets AWS_REGION), on the benchmark's database. */
function workerEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    AWS_REGION: 'us-east-1',
    MIKRO_ORM_ALLOW_VERSION_MISMATCH: 'true',
    [QUEUES_ENV]: JSON.stringify({ default: { url: QUEUE_URL, dlqUrl: `${QUEUE_URL}-dlq`, maxHardTimeout: 900 } }),
    [METRICS_ENV]: JSON.stringify({ namespace: DEFAULT_METRICS_NAMESPACE, service: 'bench/Tasks' }),
    NODE_OPTIONS: '',
  };
}

/** Milliseconds a fresh Node process takes from require() of the bundle to the handler's resolved promise. */
function timeInChild(bundle: FixtureBundle, event: object, env: NodeJS.ProcessEnv): number {
  const output = execFileSync(process.execPath, ['-e', CHILD], {
    cwd: ROOT,
    env: { ...env, BENCH_BUNDLE: bundle.file, BENCH_EVENT: JSON.stringify(event) },
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 60_000,
    encoding: 'utf8',
  });
  const ms = Number(/ELAPSED=([\d.]+)/.exec(output)?.[1]);
  if (!Number.isFinite(ms)) throw new Error(`the child printed no time: ${output}`);
  return ms;
}

run(async () => {
  const dir = projectTempDir('bench-coldstart-');
  let db: Awaited<ReturnType<typeof benchDatabase>> | undefined;
  let client: Client | undefined;
  try {
    const { library, floor } = await bundleFixtures(dir);
    db = await benchDatabase({ tag: 'coldstart', poolMax: 2 });
    const pg = new Client({ connectionString: db.url });
    client = pg;
    await pg.connect();
    await pg.query('create table bench_order (id integer primary key, status text not null, tracking_code text, updated_at timestamptz not null)');
    const env = workerEnv(db.url);

    let orders = 0;
    /** One message on a fresh order and a fresh QUEUED task_record row, handled by a fresh process; checks the outcome. */
    const handleOne = async (bundle: FixtureBundle): Promise<number> => {
      const orderId = ++orders;
      const kwargs = { orderId, trackingCode: `TRACK-${orderId}` };
      await pg.query(
        `insert into bench_order (id, status, updated_at)
         values ($1, 'NEW', now())`,
        [orderId],
      );
      const { rows } = await pg.query<{ id: string }>(
        `insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout)
         select id, 'orders.ship', $1::jsonb, 'default', 'QUEUED', id, 300 from (select gen_random_uuid() as id) as s
         returning id`,
        [JSON.stringify(kwargs)],
      );
      const taskId = rows[0].id;
      const body = JSON.stringify({ task_id: taskId, task_name: 'orders.ship', kwargs });
      const ms = timeInChild(bundle, { Records: [{ messageId: randomUUID(), receiptHandle: 'rh', eventSourceARN: QUEUE_ARN, body }] }, env);
      const check = await pg.query<{ task_status: string; order_status: string }>(
        'select t.status as task_status, o.status as order_status from task_record t, bench_order o where t.id = $1 and o.id = $2',
        [taskId, orderId],
      );
      if (check.rows[0]?.task_status !== 'SUCCESS' || check.rows[0]?.order_status !== 'SHIPPED') throw new Error(`the message was not handled: ${JSON.stringify(check.rows[0])}`);
      return ms;
    };

    const { baseline, subject } = await interleave(ROUNDS, () => handleOne(floor), () => handleOne(library));
    const figure = emit('coldstart.ratio_to_floor', subject, { unit: 'ms', baseline, aim: '<= 1.1', ormDependent: true });
    summary(
      `coldstart: require + first message ${figure.value} ms with the library's worker (${Math.round(library.bytes / 1024)} KiB) vs ${figure.baseline} ms ` +
        `with the hand-written floor (${Math.round(floor.bytes / 1024)} KiB): ratio ${figure.ratio}, spread ${figure.spread}, ${figure.rounds} rounds`,
    );
  } finally {
    await client?.end();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
