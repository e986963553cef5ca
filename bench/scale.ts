// Scale: does a worker's cost grow with the size of task_record? On a table of 5 M rows (generated in SQL: ~97 %
// SUCCESS, ~2 % FAILED, a few RETRYING and CANCELLED, spread over 30 days; 3,000 QUEUED of which 500 never sent,
// 500 RUNNING of which 50 lost), each figure is measured interleaved against the same work on a table with the same
// QUEUED and RUNNING rows but only 50,000 terminal rows (the baseline):
// - scale.maintenance_tick_ms_5m_rows: one runMaintenance tick (relay of the 500 unsent rows to fauxqs, sweep of
//   the 50 lost rows, cleanup of a batch of 1,000 terminal rows older than 30 days); each round resets what it used.
// - scale.claim_ms_5m_rows: the worker's claim (records/claim) of a QUEUED row, ms per claim (20 per round).
// - scale.batch_claim_ms_5m_rows (reported only): one UPDATE … FROM unnest(…) claiming 10 rows, ms per statement.
// The summary has the load times and the EXPLAIN (ANALYZE, BUFFERS) of each statement on the big table.
import { createRequire } from 'node:module';
import { Client } from 'pg';
import { benchDatabase, emit, interleave, median, ROUNDS, run, scaled, SCALE, summary, timed } from './support';
import { Fauxqs } from '../examples/support/fauxqs';
import { configureLambdaTasks } from '../src/runtime/config';
import { runMaintenance, type MaintenanceResult } from '../src/runtime/maintenance';
import { claim, claimMany } from '../src/runtime/records/claim';
import { generateRowsSql, type TaskRowsShape } from '../test/support/task-rows';

type Shape = TaskRowsShape;
const ACTIVE = { queued: scaled(3000, 600), undispatched: scaled(500, 50), running: scaled(500, 50), lost: scaled(50, 10) };
const BIG: Shape = { terminal: scaled(5_000_000, 1000), ...ACTIVE };
const SMALL: Shape = { terminal: scaled(50_000, 1000), ...ACTIVE };
/** Old terminal rows added before each tick: the cleanup's default batch. */
const OLD_ROWS = 1000;
const CLAIMS_PER_ROUND = 20;
const BATCHES_PER_ROUND = 5;

type Database = Awaited<ReturnType<typeof benchDatabase>> & { admin: Client; undispatched: string[]; lost: string[]; queued: { id: string; task_name: string }[]; next: number };

/** Fills the table in one INSERT … SELECT with the indexes dropped, then rebuilds them as they were; VACUUM ANALYZE. */
async function fill(db: Database, shape: Shape, label: string): Promise<void> {
  const { admin } = db;
  await admin.query("set maintenance_work_mem = '512MB'");
  const indexes = (await admin.query<{ indexname: string; indexdef: string }>("select indexname, indexdef from pg_indexes where tablename = 'task_record' and indexname <> 'task_record_pkey'")).rows;
  const started = performance.now();
  for (const { indexname } of indexes) await admin.query(`drop index "${indexname}"`);
  await admin.query('alter table "task_record" drop constraint "task_record_pkey"');
  const inserted = await timed(() => admin.query(generateRowsSql(shape)));
  const indexed = await timed(async () => {
    await admin.query('alter table "task_record" add constraint "task_record_pkey" primary key ("id")');
    for (const { indexdef } of indexes) await admin.query(indexdef);
  });
  const vacuumed = await timed(() => admin.query('vacuum (analyze) "task_record"'));
  const { rows: [size] } = await admin.query<{ rows: string; size: string }>("select count(*)::text as rows, pg_size_pretty(pg_total_relation_size('task_record')) as size from task_record");
  summary(`${label}: ${size.rows} rows (${size.size} with indexes) in ${((performance.now() - started) / 1000).toFixed(1)} s: insert ${(inserted / 1000).toFixed(1)} s, primary key + ${indexes.length} indexes ${(indexed / 1000).toFixed(1)} s, vacuum analyze ${(vacuumed / 1000).toFixed(1)} s`);
  const ids = async (where: string) => (await admin.query<{ id: string; task_name: string }>(`select "id", "task_name" from "task_record" where ${where} order by "enqueued_at"`)).rows;
  db.undispatched = (await ids('"status" = \'QUEUED\' and "dispatched_at" is null')).map((r) => r.id);
  db.lost = (await ids('"status" = \'RUNNING\' and "start_time" < now() - interval \'30 minutes\'')).map((r) => r.id);
  db.queued = await ids('"status" = \'QUEUED\' and "dispatched_at" is not null');
}

/** What a tick uses up, put back outside the timing: unsent rows, lost RUNNING rows, a batch of old terminal rows. */
async function prepareTick(db: Database): Promise<void> {
  await db.admin.query('update "task_record" set "dispatched_at" = null where "id" = any($1::uuid[])', [db.undispatched]);
  await db.admin.query('update "task_record" set "status" = \'RUNNING\', "end_time" = null, "note" = null, "traceback" = null where "id" = any($1::uuid[])', [db.lost]);
  await db.admin.query(`insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "root_id", "hard_timeout", "enqueued_at", "run_after", "dispatched_at", "start_time", "end_time", "result")
    select id, 'scale.old', '{}', 'default', 'SUCCESS', id, 60, t, t, t, t, t, '{"ok":true}' from (select gen_random_uuid() as id, now() - interval '40 days' - i * interval '1 s' as t from generate_series(1, ${OLD_ROWS}) i) g`);
}

/** The next `n` QUEUED rows (cyclic); `release` puts them back to QUEUED after a round. */
function takeQueued(db: Database, n: number): { rows: { id: string; task_name: string }[]; release(): Promise<unknown> } {
  const rows = Array.from({ length: n }, (_, i) => db.queued[(db.next + i) % db.queued.length]);
  db.next = (db.next + n) % db.queued.length;
  const release = () => db.admin.query('update "task_record" set "status" = \'QUEUED\', "start_time" = null, "message_id" = null where "id" = any($1::uuid[])', [rows.map((r) => r.id)]);
  return { rows, release };
}

/** Each tick's per-step result (the first is the unmeasured warm-up). */
const steps: Record<'big' | 'small', MaintenanceResult[]> = { big: [], small: [] };

async function tick(db: Database, side: 'big' | 'small'): Promise<number> {
  await prepareTick(db);
  let result: MaintenanceResult = {};
  const ms = await timed(async () => (result = await runMaintenance({ em: db.orm.em.fork() })));
  const failed = Object.entries(result).filter(([, step]) => !step.ok);
  if (failed.length > 0) throw new Error(`maintenance failed: ${failed.map(([name, step]) => `${name}: ${step.error}`).join('; ')}`);
  const did = (name: string) => result[name].result as Record<string, number>;
  if (did('relay').sent !== db.undispatched.length || did('sweep').swept !== db.lost.length || did('cleanup').deleted !== OLD_ROWS) {
    throw new Error(`a tick did not do its work: ${JSON.stringify({ relay: did('relay'), sweep: did('sweep'), cleanup: did('cleanup') })}`);
  }
  steps[side].push(result);
  return ms;
}

async function claims(db: Database): Promise<number> {
  const { rows, release } = takeQueued(db, CLAIMS_PER_ROUND);
  let total = 0;
  for (const row of rows) {
    let claimed: unknown = null;
    total += await timed(async () => (claimed = await claim(db.orm.em.fork(), row.id, row.task_name, `m-${row.id}`)));
    if (!claimed) throw new Error(`claim found no QUEUED row ${row.id}`);
  }
  await release();
  return total / rows.length;
}

async function batchClaims(db: Database): Promise<number> {
  const { rows, release } = takeQueued(db, BATCHES_PER_ROUND * 10);
  let total = 0;
  for (let b = 0; b < BATCHES_PER_ROUND; b++) {
    const batch = rows.slice(b * 10, b * 10 + 10);
    let claimed = new Map<string, unknown>();
    const requests = batch.map((r) => ({ id: r.id, taskName: r.task_name, messageId: `m-${r.id}` }));
    total += await timed(async () => (claimed = await claimMany(db.orm.em.fork(), requests)));
    if (claimed.size !== 10) throw new Error(`batch claim got ${claimed.size} of 10 rows`);
  }
  await release();
  return total / BATCHES_PER_ROUND;
}

/** The statements on task_record that `pg` clients but `except` send while `fn` runs (MikroORM 6 and 7 both go through pg). */
async function captured(except: Client, fn: () => Promise<unknown>): Promise<{ text: string; values: unknown[] }[]> {
  // MikroORM 7's @mikro-orm/postgresql has its own copy of pg: patch that one's Client too.
  const ormPg = createRequire(require.resolve('@mikro-orm/postgresql'))('pg') as { Client: typeof Client };
  type Query = (this: unknown, ...args: unknown[]) => unknown;
  const protos = [...new Set([Client.prototype, ormPg.Client.prototype])] as unknown as { query: Query }[];
  const originals = protos.map((proto) => proto.query);
  const seen: { text: string; values: unknown[] }[] = [];
  protos.forEach((proto, i) => {
    proto.query = function (this: unknown, ...args: unknown[]) {
      const [first, second] = args as [string | { text: string; values?: unknown[] }, unknown];
      const text = typeof first === 'string' ? first : first.text;
      const values = typeof first === 'string' ? (Array.isArray(second) ? second : []) : first.values ?? [];
      if (this !== except && /task_record/.test(text)) seen.push({ text, values: [...values] });
      return originals[i].apply(this, args);
    };
  });
  try {
    await fn();
  } finally {
    protos.forEach((proto, i) => (proto.query = originals[i]));
  }
  return seen;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the statements of one tick, one claim and one batch claim, each rolled back. */
async function explainAll(db: Database): Promise<void> {
  await prepareTick(db);
  const statements = await captured(db.admin, async () => {
    await runMaintenance({ em: db.orm.em.fork() });
    await claims(db);
    await batchClaims(db);
  });
  await prepareTick(db);
  const seen = new Set<string>();
  for (const { text, values } of statements) {
    if (seen.has(text)) continue;
    seen.add(text);
    await db.admin.query('begin');
    try {
      const plan = await db.admin.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${text}`, values);
      summary(`EXPLAIN (ANALYZE, BUFFERS) on ${BIG.terminal + BIG.queued + BIG.running} rows: ${text.replace(/\s+/g, ' ').slice(0, 160)}`);
      for (const row of plan.rows) summary(`    ${row['QUERY PLAN'].slice(0, 240)}`);
    } finally {
      await db.admin.query('rollback');
    }
  }
}

async function open(tag: string): Promise<Database> {
  const db = await benchDatabase({ tag, poolMax: 4 });
  const admin = new Client({ connectionString: db.url });
  try {
    await admin.connect();
  } catch (error) {
    await db.close();
    throw error;
  }
  return Object.assign(db, { admin, undispatched: [], lost: [], queued: [], next: 0 });
}

run(async () => {
  const started = performance.now();
  const opened: Database[] = [];
  let fauxqs: Fauxqs | undefined;
  try {
    const big = await open('scale_big');
    opened.push(big);
    const small = await open('scale_small');
    opened.push(small);
    fauxqs = await Fauxqs.start();
    const queue = await fauxqs.createQueue('bench-scale');
    configureLambdaTasks({ queues: { default: { url: queue.url } }, sqsClient: fauxqs.client });
    await fill(big, BIG, `big table (BENCH_SCALE=${SCALE})`);
    await fill(small, SMALL, 'small table (baseline)');

    const ticks = await interleave(ROUNDS, () => tick(small, 'small'), () => tick(big, 'big'));
    const one = await interleave(ROUNDS, () => claims(small), () => claims(big));
    const batch = await interleave(ROUNDS, () => batchClaims(small), () => batchClaims(big));
    const rows = `${BIG.terminal + BIG.queued + BIG.running} vs ${SMALL.terminal + SMALL.queued + SMALL.running} rows`;
    const t = emit('scale.maintenance_tick_ms_5m_rows', ticks.subject, { unit: 'ms', baseline: ticks.baseline, aim: '<= 1000', ormDependent: true });
    const c = emit('scale.claim_ms_5m_rows', one.subject, { unit: 'ms', baseline: one.baseline, aim: '<= 5', ormDependent: true });
    const b = emit('scale.batch_claim_ms_5m_rows', batch.subject, { unit: 'ms', baseline: batch.baseline, ormDependent: true });
    const stepMs = (side: 'big' | 'small', name: string) => median(steps[side].slice(1).map((r) => r[name].durationMs)).toFixed(0);
    summary(`maintenance tick, ${rows}: ${t.value} ms vs ${t.baseline} ms (ratio ${t.ratio}); median per step big/small: ${
      ['relay', 'sweep', 'reconcile', 'cleanup'].map((s) => `${s} ${stepMs('big', s)}/${stepMs('small', s)} ms`).join(', ')}`);
    summary(`claim, ${rows}: ${c.value} ms vs ${c.baseline} ms per claim (ratio ${c.ratio}); batch claim of 10: ${b.value} ms vs ${b.baseline} ms per statement (ratio ${b.ratio})`);
    await explainAll(big);
  } finally {
    await fauxqs?.stop();
    for (const db of opened) {
      await db.admin.end().catch(() => undefined);
      await db.close();
    }
    summary(`scale: whole run ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
});
