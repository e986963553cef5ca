// The worker bundle as LambdaTasksQueue builds it (local esbuild, minified CommonJS, the same externals):
// its size, the packages over 50 KiB, and the time from a fresh `node` to the first handled message
// against a bare MikroORM init with one entity, both in child processes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { benchDatabase, emit, run, SCALE, summary } from './support';
import { WORKER_EXTERNAL_MODULES } from '../src/constructs/task-queue-resources';

const ROOT = path.resolve(__dirname, '..');

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match ? match[1] : '(project)';
}

run(async () => {
  // Inside the project, so the bundle finds @aws-sdk/* in node_modules as it would in the Lambda runtime.
  mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  const out = mkdtempSync(path.join(ROOT, '.tmp', 'bench-bundle-'));
  try {
    const result = await build({
      entryPoints: [path.join(ROOT, 'test/constructs/fixtures/worker.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      metafile: true,
      external: WORKER_EXTERNAL_MODULES,
      outfile: path.join(out, 'index.js'),
      logLevel: 'silent',
    });
    const bytes = statSync(path.join(out, 'index.js')).size;
    const byPackage = new Map<string, number>();
    for (const output of Object.values(result.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytesInOutput);
    }
    const large = [...byPackage].filter(([, b]) => b > 50 * 1024).sort((a, b) => b[1] - a[1]);
    emit('bundle.worker_bytes', bytes, 'bytes');
    for (const [name, b] of large) emit(`bundle.package.${name}`, b, 'bytes');

    const db = await benchDatabase();
    try {
      // As the construct sets them on the worker (and Lambda sets AWS_REGION).
      const env = { ...process.env, MIKRO_ORM_ALLOW_VERSION_MISMATCH: 'true', AWS_REGION: 'us-east-1', DATABASE_URL: db.url, LAMBDA_TASKS_QUEUES: '{"default":"https://sqs.us-east-1.amazonaws.com/000000000000/bench"}', NODE_OPTIONS: '' };
      const coldStart = `
        const started = process.hrtime.bigint();
        const { handler } = require(${JSON.stringify(path.join(out, 'index.js'))});
        handler({ Records: [{ messageId: '00000000-0000-4000-8000-000000000001', receiptHandle: 'rh', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
          body: JSON.stringify({ task_name: 'fixture.sendFixtureEmail', kwargs: { to: 'a' } }) }] },
          { getRemainingTimeInMillis: () => 900000 })
          .then((r) => { if (r.batchItemFailures.length) process.exit(2); process.stdout.write('\\nELAPSED=' + Number(process.hrtime.bigint() - started) / 1e6); process.exit(0); });`;
      const bare = `
        const started = process.hrtime.bigint();
        const { MikroORM, EntitySchema } = require('@mikro-orm/postgresql');
        class Note {}
        const schema = new EntitySchema({ class: Note, tableName: 'note', properties: { id: { type: 'integer', primary: true } } });
        MikroORM.init({ clientUrl: process.env.DATABASE_URL, entities: [schema] })
          .then((orm) => orm.em.getConnection().execute('select 1').then(() => {
            process.stdout.write('\\nELAPSED=' + Number(process.hrtime.bigint() - started) / 1e6); process.exit(0); }));`;
      const runs = SCALE < 1 ? 1 : 5;
      const time = (script: string) => {
        const samples = Array.from({ length: runs }, () => {
          const output = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
          return Number(/ELAPSED=([\d.]+)/.exec(output)?.[1]);
        });
        return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
      };
      const cold = time(coldStart);
      const baseline = time(bare);
      const figure = emit('bundle.cold_start_to_first_message_ms', cold, 'ms', baseline);
      summary(`bundle: ${(bytes / 1024 / 1024).toFixed(2)} MB (${large.map(([name, b]) => `${name} ${Math.round(b / 1024)} KiB`).join(', ')}); cold start to the first handled message ${cold.toFixed(0)} ms vs a bare MikroORM init ${baseline.toFixed(0)} ms (ratio ${figure.ratio})`);
    } finally {
      await db.close();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
