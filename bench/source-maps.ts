// What source maps cost a worker's cold start: the same worker bundle (minified CommonJS, the construct's
// externals) loaded in a fresh Node process with and without `sourceMap` + NODE_OPTIONS=--enable-source-maps,
// interleaved (baseline and subject alternating), 9 rounds (3 at BENCH_SCALE < 1), median and spread of the
// per-round ratio. "load" is require() of the bundle (what a cold start pays); "first error" adds one error thrown
// inside the bundle and its stack read (what the first failing task pays: with source maps on, the map is parsed then).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { emit, run, SCALE, summary } from './support';
import { WORKER_EXTERNAL_MODULES } from '../src/constructs/worker-bundling';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, '.tmp', 'bench-source-maps');
const ROUNDS = SCALE < 1 ? 3 : 9; // BENCH_SCALE below 1 (the test) runs a short version

async function bundle(dir: string, sourcemap: boolean): Promise<string> {
  const outfile = path.join(dir, 'index.js');
  await build({
    entryPoints: [path.join(ROOT, 'integ', 'worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    sourcemap,
    outfile,
    external: WORKER_EXTERNAL_MODULES,
    logLevel: 'silent',
  });
  return outfile;
}

/** Milliseconds a fresh Node process spends inside `code` (measured in the child, so process start-up is excluded). */
function timeInChild(file: string, withMaps: boolean, code: string): number {
  const script = `const t = process.hrtime.bigint(); const m = require(${JSON.stringify(file)}); ${code}; console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  const output = execFileSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: withMaps ? '--enable-source-maps' : '', MIKRO_ORM_ALLOW_VERSION_MISMATCH: 'true', LAMBDA_TASKS_LOG_LEVEL: 'silent' },
  });
  return Number(output.trim().split('\n').pop());
}

run(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  try {
    const plain = await bundle(path.join(OUT, 'plain'), false);
    const mapped = await bundle(path.join(OUT, 'mapped'), true);
    summary(`worker bundle ${statSync(plain).size} bytes; with a source map ${statSync(mapped).size} bytes + map ${statSync(`${mapped}.map`).size} bytes`);
    for (const [name, code] of [['load', ''], ['first_error', 'try { m.sendEmail.serialize({ to: 1 }); } catch (error) { void error.stack; }']] as const) {
      const baseline: number[] = [];
      const subject: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        baseline.push(timeInChild(plain, false, code));
        subject.push(timeInChild(mapped, true, code));
      }
      const figure = emit(`coldstart.source_maps.${name}`, subject, { unit: 'ms', baseline });
      summary(`${figure.name}: ${figure.value} ms with maps vs ${figure.baseline} ms without (ratio ${figure.ratio}, spread ${figure.spread}), ${ROUNDS} rounds`);
    }
  } finally {
    rmSync(OUT, { recursive: true, force: true });
  }
});
