import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');
const run = promisify(execFile);

/** Leaves npm packages to node_modules (as an app's bundler may for a server), bundles the app's and the library's files. */
const packagesExternal: Plugin = {
  name: 'packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => ({ path: args.path, external: true }));
  },
};

describe('A producer bundled with esbuild ("sideEffects": false honoured)', () => {
  let dir: string;
  beforeAll(() => {
    // Inside the repository, so the bundle's require() calls find node_modules.
    mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
    dir = mkdtempSync(path.join(ROOT, '.tmp', 'eager-bundle-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a task in eager mode though the app imports only lambdaTask, configureLambdaTasks and withLambdaTasks', async () => {
    const outfile = path.join(dir, 'producer.js');
    const result = await build({
      entryPoints: [path.join(__dirname, 'fixtures/eager-producer/main.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile,
      metafile: true,
      logLevel: 'silent',
      plugins: [packagesExternal],
    });
    // The in-process runner reached the bundle through withLambdaTasks, not through an import for its side effect.
    const bundled = Object.keys(result.metafile.inputs);
    expect(bundled).toContain('src/runtime/in-process.ts');

    const { stdout } = await run(process.execPath, [outfile], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } });
    const row = stdout.split('\n').find((line) => line.startsWith('ROW '));
    expect(row && JSON.parse(row.slice(4))).toEqual({ status: 'SUCCESS', result: 'hello bundle' });
  });
});
