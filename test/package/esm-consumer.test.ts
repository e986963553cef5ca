import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { WORKER_EXTERNAL_MODULES } from '../../src/constructs/worker-bundling';

const ROOT = path.resolve(__dirname, '../..');
// Under the repository, so the package's own imports (zod, MikroORM, …) resolve to its node_modules.
const WORK = path.join(ROOT, '.tmp', 'esm-consumer');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** A user's worker, written as ES modules (what most TypeScript apps compile or bundle from). */
const WORKER = `
import { z } from 'zod';
import { createHandler, lambdaTask } from 'cdk-lambda-tasks/runtime';
export const greet = lambdaTask({ name: 'esm.greet', args: z.object({ name: z.string() }) }, async ({ name }) => 'hi ' + name);
export const handler = createHandler({ tasks: [greet], ormConfig: () => ({ clientUrl: process.env.DATABASE_URL }) });
`;

/** Installs the built package as `node_modules/cdk-lambda-tasks` of a consumer folder, with the given exports. */
function installPackage(consumer: string, exportsField: unknown): void {
  const pkg = path.join(consumer, 'node_modules', 'cdk-lambda-tasks');
  mkdirSync(path.dirname(pkg), { recursive: true });
  cpSync(path.join(WORK, 'build'), pkg, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ ...manifest, exports: exportsField }));
  writeFileSync(path.join(consumer, 'worker.mjs'), WORKER);
  // Its own package scope: otherwise the repository's package.json makes `cdk-lambda-tasks` a self-reference.
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: `consumer-${path.basename(consumer)}`, private: true }));
}

/** Bundles the consumer's worker as the construct does (CommonJS, minified, the same externals): bytes and zod builds. */
async function bundleWorker(consumer: string): Promise<{ bytes: number; zodBuilds: string[] }> {
  const outfile = path.join(consumer, 'out', 'index.js');
  const result = await build({
    entryPoints: [path.join(consumer, 'worker.mjs')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    outfile,
    metafile: true,
    external: WORKER_EXTERNAL_MODULES,
    logLevel: 'silent',
  });
  const zodFiles = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules/zod/'));
  // zod ships an ES module build (.js) and a CommonJS build (.cjs): each one present is one copy of zod.
  const zodBuilds = [...new Set(zodFiles.map((file) => (file.endsWith('.cjs') ? 'commonjs' : 'esm')))].sort();
  return { bytes: statSync(outfile).size, zodBuilds };
}

describe('The ES module build, as a consumer meets it', () => {
  beforeAll(() => {
    rmSync(WORK, { recursive: true, force: true });
    const lib = path.join(WORK, 'build', 'lib');
    execFileSync(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', lib], { stdio: 'pipe' });
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-esm.mjs'), lib], { stdio: 'pipe' });
  }, 180_000);
  afterAll(() => rmSync(WORK, { recursive: true, force: true }));

  it('a rebuild leaves no chunk of an earlier build behind (the files allow-list would publish it)', () => {
    const lib = path.join(WORK, 'build', 'lib');
    const stale = path.join(lib, 'esm', 'chunks', 'chunk-OLDHASH0.mjs');
    writeFileSync(stale, 'export {};\n');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-esm.mjs'), lib], { stdio: 'pipe' });
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(path.join(lib, 'esm', 'chunks')).filter((f) => f.endsWith('.mjs')).length).toBeGreaterThan(0);
  }, 60_000);

  it('bundles one copy of zod into an ESM consumer’s worker (CommonJS only would bundle two)', async () => {
    const current = path.join(WORK, 'current');
    installPackage(current, JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).exports);
    // The package as it was before: CommonJS only, so `import` falls back to the require build.
    const commonJsOnly = path.join(WORK, 'commonjs-only');
    const cjsEntry = (name: string) => ({ types: `./lib/${name}.d.ts`, default: `./lib/${name}.js` });
    installPackage(commonJsOnly, { '.': cjsEntry('index'), './runtime': cjsEntry('runtime/index'), './runtime/testing': cjsEntry('runtime/testing'), './runtime/migrations': cjsEntry('runtime/migrations') });

    const after = await bundleWorker(current);
    const before = await bundleWorker(commonJsOnly);
    process.stdout.write(`consumer worker bundle: CommonJS-only package ${before.bytes} bytes, zod builds ${before.zodBuilds.join('+')}; with the ES module build ${after.bytes} bytes, zod builds ${after.zodBuilds.join('+')}\n`);
    expect(before.zodBuilds).toEqual(['commonjs', 'esm']); // the check can fail: two copies without the ES module build
    expect(after.zodBuilds).toEqual(['esm']);
    expect(after.bytes).toBeLessThan(before.bytes);
  }, 120_000);

  it('createHandler refuses a task made by the other build (CommonJS ↔ ES module), naming it and the fix; its own build’s tasks it takes', () => {
    const consumer = path.join(WORK, 'dual');
    installPackage(consumer, JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).exports);
    // One process, both builds: the dual-package hazard of an app whose modules mix import and require.
    const script = `
      const { createRequire } = await import('node:module');
      const require = createRequire(process.cwd() + '/');
      const esm = await import('cdk-lambda-tasks/runtime');
      const cjs = require('cdk-lambda-tasks/runtime');
      const { z } = await import('zod');
      const fromCjs = cjs.lambdaTask({ name: 'dual.fromCjs', args: z.object({}) }, async () => 1);
      const fromEsm = esm.lambdaTask({ name: 'dual.fromEsm', args: z.object({}) }, async () => 2);
      const attempt = (createHandler, LambdaTasksError, tasks) => {
        try {
          createHandler({ tasks, ormConfig: () => ({}) });
          return 'accepted';
        } catch (error) {
          return { name: error.name, library: error instanceof LambdaTasksError, message: error.message };
        }
      };
      console.log(JSON.stringify({
        cjsTaskToEsmHandler: attempt(esm.createHandler, esm.LambdaTasksError, { fromCjs, fromEsm }),
        esmTaskToCjsHandler: attempt(cjs.createHandler, cjs.LambdaTasksError, [fromEsm]),
        ownEsm: attempt(esm.createHandler, esm.LambdaTasksError, [fromEsm]),
        ownCjs: attempt(cjs.createHandler, cjs.LambdaTasksError, [fromCjs]),
      }));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', LAMBDA_TASKS_LOG_LEVEL: 'silent' } });
    const result = JSON.parse(output.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result.ownEsm).toBe('accepted');
    expect(result.ownCjs).toBe('accepted');
    for (const [key, task] of [['cjsTaskToEsmHandler', 'dual.fromCjs'], ['esmTaskToCjsHandler', 'dual.fromEsm']] as const) {
      expect(result[key]).toMatchObject({ name: 'LambdaTasksError', library: true });
      const { message } = result[key] as { message: string };
      expect(message).toContain(`task "${task}" was made by another copy of cdk-lambda-tasks`);
      expect(message).toMatch(/CommonJS build .*require.* ES module build .*import/);
      expect(message).toMatch(/import lambdaTask and createHandler the same way/);
    }
  }, 60_000);

  it('loads in Node as ES modules: one registry across entry points, and the construct entry imports aws-cdk-lib', () => {
    const consumer = path.join(WORK, 'current');
    const script = `
      const runtime = await import('cdk-lambda-tasks/runtime');
      const testing = await import('cdk-lambda-tasks/runtime/testing');
      const { z } = await import('zod');
      runtime.lambdaTask({ name: 'esm.same', args: z.object({}) }, async () => 1);
      let conflict = '';
      try { runtime.lambdaTask({ name: 'esm.same', args: z.object({ x: z.number() }) }, async () => 2); } catch (error) { conflict = error.name; }
      testing.resetTaskRegistry(); // the testing entry empties the registry the runtime entry filled
      runtime.lambdaTask({ name: 'esm.same', args: z.object({ x: z.number() }) }, async () => 3);
      const { LambdaTasksQueue } = await import('cdk-lambda-tasks');
      console.log(JSON.stringify({ conflict, construct: typeof LambdaTasksQueue, record: typeof runtime.TaskRecord }));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', LAMBDA_TASKS_LOG_LEVEL: 'silent' } });
    expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ conflict: 'TaskDefinitionError', construct: 'function', record: 'function' });
  }, 60_000);
});
