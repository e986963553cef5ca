import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { engine } from '../support/database';

const ROOT = path.resolve(__dirname, '../..');
const TS_NODE = path.join(ROOT, 'node_modules/ts-node/dist/bin.js');
const KEYS = ['name', 'value', 'baseline', 'ratio', 'unit', 'spread', 'rounds', 'aim'];

interface Figure {
  name: string;
  value: number;
  baseline: number | null;
  ratio: number | null;
  unit: string;
  spread: number;
  rounds: number;
  aim: string | null;
}

/** Runs a benchmark at a tiny size; every stdout line must be a figure (no timing is asserted). */
function runBench(name: string): Figure[] {
  const output = execFileSync(process.execPath, [TS_NODE, '--transpile-only', '--project', 'tsconfig.dev.json', `bench/${name}.ts`], {
    cwd: ROOT,
    env: { ...process.env, BENCH_SCALE: '0.01', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 150_000,
  }).toString();
  return output.split('\n').filter((line) => line.length > 0).map((line) => {
    const figure = JSON.parse(line) as Figure; // a summary or a log line on stdout fails here
    expect(Object.keys(figure)).toEqual(KEYS);
    expect(Number.isFinite(figure.value)).toBe(true);
    expect(figure.spread).toBeGreaterThanOrEqual(0);
    if (figure.baseline !== null) expect(figure.ratio).not.toBeNull();
    return figure;
  });
}

const names = (figures: Figure[]) => figures.map((f) => f.name.replace(/\.mo\d+$/, ''));
const itWithDatabase = engine === 'postgres' ? it : it.skip;

describe('Every benchmark runs at a tiny size and prints only its JSON figures', () => {
  it.each([
    ['dispatch', ['dispatch.speedup_8_vs_1_at_20ms']],
    ['source-maps', ['coldstart.source_maps.load', 'coldstart.source_maps.first_error']],
    ['bundle', ['bundle.over_floor_bytes', 'bundle.consumer_bytes']],
  ])('%s', (name, expected) => {
    expect(names(runBench(name))).toEqual(expect.arrayContaining(expected));
  }, 180_000);

  itWithDatabase.each([
    ['enqueue', ['enqueue.ratio_to_floor', 'enqueue.in_transaction_ratio_to_graphile', 'scale.enqueue_per_task_ratio_10k_to_1k']],
    ['latency', ['latency.commit_to_start_p50_ms', 'latency.commit_to_start_p99_ms']],
    ['scale', ['scale.maintenance_tick_ms_5m_rows', 'scale.claim_ms_5m_rows']],
    ['coldstart', ['coldstart.ratio_to_floor']],
  ])('%s (PostgreSQL)', (name, expected) => {
    expect(names(runBench(name))).toEqual(expect.arrayContaining(expected));
  }, 180_000);

  itWithDatabase('worker (PostgreSQL): the handler sends no more statements per task than the hand-written loop', () => {
    const figures = runBench('worker');
    expect(names(figures)).toEqual(expect.arrayContaining(['worker.ratio_to_raw.c1', 'worker.ratio_to_raw.c4', 'worker.round_trips_per_task', 'worker.ratio_to_graphile.c4']));
    const trips = figures.find((f) => f.name.startsWith('worker.round_trips_per_task'))!;
    expect(trips.value).toBeLessThanOrEqual(trips.baseline!);
  }, 180_000);
});
