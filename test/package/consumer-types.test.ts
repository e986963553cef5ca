import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const WORK = path.join(ROOT, '.tmp', 'consumer-types');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const CONSUMER = `
import { z } from 'zod';
import { lambdaTask, TaskStatus, withLambdaTasks, type TaskContext } from 'cdk-lambda-tasks/runtime';
import { resetTaskRegistry } from 'cdk-lambda-tasks/runtime/testing';
import { lambdaTasksMigrations } from 'cdk-lambda-tasks/runtime/migrations';
import { WORKER_EXTERNAL_MODULES } from 'cdk-lambda-tasks';

export const double = lambdaTask({ name: 'consumer.double', args: z.object({ n: z.number() }) }, async ({ n }, ctx: TaskContext) => {
  ctx.logger.info('doubling');
  return n * 2;
});
export const result: Promise<number> = double({ n: 1 });
// @ts-expect-error n must be a number
export const wrong = double({ n: 'one' });
export const status: TaskStatus = TaskStatus.QUEUED;
export const config = withLambdaTasks({ entities: [] });
export const names: string[] = lambdaTasksMigrations.map((m) => m.name);
export const externals: readonly string[] = WORKER_EXTERNAL_MODULES;
resetTaskRegistry();
`;

function tsconfig(moduleResolution: 'node' | 'nodenext'): object {
  return {
    compilerOptions: {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: 'ES2022',
      module: moduleResolution === 'node' ? 'commonjs' : 'nodenext',
      moduleResolution,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files: ['consumer.ts'],
  };
}

describe('A consumer of the published package', () => {
  beforeAll(() => {
    rmSync(WORK, { recursive: true, force: true });
    const pkg = path.join(WORK, 'node_modules', 'cdk-lambda-tasks');
    mkdirSync(pkg, { recursive: true });
    // The declarations as `npm pack` would ship them, under the package's own package.json.
    execFileSync(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', path.join(pkg, 'lib'), '--emitDeclarationOnly'], { stdio: 'pipe' });
    cpSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    writeFileSync(path.join(WORK, 'consumer.ts'), CONSUMER);
    writeFileSync(path.join(WORK, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'commonjs' }));
  }, 120_000);
  afterAll(() => rmSync(WORK, { recursive: true, force: true }));

  it.each(['node', 'nodenext'] as const)('gets the runtime types under moduleResolution %s', (moduleResolution) => {
    writeFileSync(path.join(WORK, 'tsconfig.json'), JSON.stringify(tsconfig(moduleResolution)));
    let output = '';
    try {
      execFileSync(process.execPath, [TSC, '-p', path.join(WORK, 'tsconfig.json')], { stdio: 'pipe', cwd: WORK });
    } catch (error) {
      output = String((error as { stdout?: Buffer }).stdout ?? error);
    }
    expect(output).toBe('');
  }, 120_000);
});
