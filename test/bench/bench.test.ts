import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { engine } from '../support/database';

const ROOT = path.resolve(__dirname, '../..');
const TS_NODE = path.join(ROOT, 'node_modules/ts-node/dist/bin.js');

/** Runs a benchmark at a tiny size and returns its JSON figures (no timing is asserted). */
function runBench(name: string): { name: string; value: number; unit: string; baseline: number | null; ratio: number | null }[] {
  const output = execFileSync(process.execPath, [TS_NODE, '--transpile-only', '--project', 'tsconfig.dev.json', `bench/${name}.ts`], {
    cwd: ROOT,
    env: { ...process.env, BENCH_SCALE: '0.01', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 120_000,
  }).toString();
  const lines = output.split('\n').filter((line) => line.trim().length > 0);
  expect(lines.some((line) => line.startsWith('# '))).toBe(true); // the human summary
  return lines.filter((line) => !line.startsWith('# ')).map((line) => JSON.parse(line));
}

const itWithDatabase = engine === 'postgres' ? it : it.skip;

describe('The benchmarks run and print valid JSON figures at a tiny size', () => {
  it.each([['dispatch', 'dispatch.messages_per_second'], ['source-maps', 'coldstart.source_maps.load']])('%s', (name, figure) => {
    const figures = runBench(name);
    expect(figures.map((f) => f.name)).toContain(figure);
    for (const f of figures) expect(Object.keys(f)).toEqual(['name', 'value', 'unit', 'baseline', 'ratio']);
  }, 150_000);

  itWithDatabase.each([
    ['enqueue', 'enqueue.sql_statements'],
    ['worker', 'worker.tasks_per_second'],
    ['bundle', 'bundle.cold_start_to_first_message_ms'],
  ])('%s (PostgreSQL)', (name, figure) => {
    const figures = runBench(name);
    expect(figures.map((f) => f.name)).toContain(figure);
    for (const f of figures) {
      expect(Object.keys(f)).toEqual(['name', 'value', 'unit', 'baseline', 'ratio']);
      expect(typeof f.value).toBe('number');
    }
  }, 150_000);
});
