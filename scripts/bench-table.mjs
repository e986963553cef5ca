#!/usr/bin/env node
// Turns `npm run bench` output (JSON lines) into the README's performance table, written between the markers
// <!-- bench-table:start --> and <!-- bench-table:end -->:   node scripts/bench-table.mjs bench.jsonl [README.md]
import { readFileSync, writeFileSync } from 'node:fs';

const [input, target = 'README.md'] = process.argv.slice(2);
if (!input) throw new Error('usage: node scripts/bench-table.mjs bench.jsonl [README.md]');

/** What each figure measures, and against what (the baseline is measured in the same run, interleaved). */
const LABELS = {
  'enqueue.ratio_to_floor': ['Transaction with 1,000 app rows + 1,000 tasks (flush, commit, dispatch)', 'hand-written outbox, same work'],
  'enqueue.sql_statements': ['Statements in that transaction (begin … commit, then after it)', 'hand-written outbox'],
  'enqueue.in_transaction_ratio_to_graphile': ['Added inside the transaction for 1,000 tasks (validate, insert, flush)', 'graphile-worker add_jobs of 1,000'],
  'scale.enqueue_per_task_ratio_10k_to_1k': ['Per-task enqueue cost, 10,000 tasks in one transaction', 'the same at 1,000'],
  'worker.ratio_to_raw.c1': ['Worker: trivial tasks through the handler, batches of 10, concurrency 1', 'raw pg loop, same statements'],
  'worker.ratio_to_raw.c4': ['Worker: the same at concurrency 4', 'raw pg loop, same statements'],
  'worker.round_trips_per_task': ['Statements per task through the handler', 'raw pg loop'],
  'worker.ratio_to_graphile.c4': ['Worker at concurrency 4', 'graphile-worker 0.17.3, concurrency 4'],
  'dispatch.speedup_8_vs_1_at_20ms': ['Dispatch of 10,000 messages, 20 ms per SQS request, 8 batches in flight', 'one batch at a time'],
  'latency.commit_to_start_p50_ms': ['Commit to the task’s first line, p50 (runLocalWorker, fauxqs)', 'bare SQS send → receive'],
  'latency.commit_to_start_p99_ms': ['Commit to the task’s first line, p99', 'bare SQS send → receive'],
  'scale.maintenance_tick_ms_5m_rows': ['One maintenance tick with 5 M rows in task_record', 'the same with 50,000 rows'],
  'scale.claim_ms_5m_rows': ['One claim with 5 M rows', 'the same with 50,000 rows'],
  'scale.batch_claim_ms_5m_rows': ['One claim of 10 deliveries with 5 M rows', 'the same with 50,000 rows'],
  'bundle.over_floor_bytes': ['Worker bundle over the floor (the same tasks, MikroORM, pg, zod, a minimal handler)', 'floor bundle'],
  'bundle.consumer_bytes': ['Worker bundle of a consumer’s task module, as the construct builds it', 'floor bundle'],
  'coldstart.ratio_to_floor': ['Cold start: fresh node, load the bundle, handle one message', 'the floor bundle, same message'],
  'coldstart.source_maps.load': ['Loading the bundle with source maps on', 'without'],
  'coldstart.source_maps.first_error': ['First error’s stack with source maps on', 'without'],
};

const fmt = (x) => (x === null || x === undefined ? '' : Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : String(Number(x.toPrecision(3))));
/** An aim applies to the ratio for ratio and speedup figures, else to the value. */
function met(f) {
  if (!f.aim) return '';
  const [op, limit] = f.aim.split(' ');
  const subject = /ratio|speedup/.test(f.name) ? f.ratio : f.value;
  const ok = op === '<=' ? subject <= Number(limit) : subject >= Number(limit);
  return `${f.aim}: ${ok ? 'met' : '**not met**'}`;
}

const figures = readFileSync(input, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
const rows = figures.map((f) => {
  const base = f.name.replace(/\.mo\d+$/, '');
  const [what, against] = LABELS[base] ?? [base, ''];
  const orm = f.name.endsWith('.mo7') ? 'MikroORM 7, Node 24' : /^(dispatch|coldstart\.source_maps)/.test(base) ? '' : 'MikroORM 6.6, Node 20';
  return `| \`${f.name}\` | ${what}${orm ? ` (${orm})` : ''} | ${fmt(f.value)} ${f.unit} | ${f.baseline === null ? '' : `${fmt(f.baseline)} (${against})`} | ${fmt(f.ratio)} | ${fmt(f.spread)} | ${f.rounds} | ${met(f)} |`;
});
const table = ['| Figure | What | Value | Baseline (same run) | Ratio | Spread | Rounds | Aim |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
const text = readFileSync(target, 'utf8');
const start = '<!-- bench-table:start -->';
const end = '<!-- bench-table:end -->';
if (!text.includes(start) || !text.includes(end)) throw new Error(`${target} has no ${start} … ${end} markers`);
writeFileSync(target, `${text.slice(0, text.indexOf(start) + start.length)}\n${table}\n${text.slice(text.indexOf(end))}`);
console.error(`${figures.length} figures written to ${target}`);
