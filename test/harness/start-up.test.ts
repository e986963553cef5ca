import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Migration } from '@mikro-orm/migrations';
import { build } from 'esbuild';
import { Client } from 'pg';
import { started, stillRunning, stopStillRunning } from '../../examples/support/still-running';
import { createTestOrm, engine } from '../support/database';
import { Fauxqs } from '../support/fauxqs';
import { startWorkerEnvironment, stopWorkerEnvironment } from '../support/worker-environment';

const ROOT = path.resolve(__dirname, '../..');
const SUPPORT = path.join(ROOT, 'examples/support');
const run = promisify(execFile);

/** The pid a start-up error names ("fauxqs (pid 123) …"). */
function pidIn(error: unknown): number {
  const match = /fauxqs \(pid (\d+)\)/.exec((error as Error).message);
  if (!match) throw new Error(`no pid in: ${(error as Error).message}`);
  return Number(match[1]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Waits until the process is gone (a state; the test's timeout bounds it). */
async function gone(pid: number): Promise<void> {
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the start-up to fail');
    },
    (error: Error) => error,
  );
}

describe('The test harness: a start-up that fails stops what it started', () => {
  let taken: Server | undefined;
  afterAll(async () => {
    await new Promise((r) => (taken ? taken.close(r) : r(undefined)));
  });

  it('fauxqs that never says it is listening: the error names what was awaited and the bound, and the child is killed', async () => {
    const error = await failure(Fauxqs.start({ nodeArgs: ['-e', 'setInterval(() => {}, 1000)'], readyTimeoutMs: 1_000 }));
    expect(error.message).toMatch(/^fauxqs \(pid \d+\) did not print its "listening" line on stdout \(.*\) within 1000 ms; it wrote nothing to stderr$/);
    expect(isAlive(pidIn(error))).toBe(false); // start() resolved only after the child had exited
    expect(stillRunning()).toEqual([]);
  });

  it('fauxqs that exits during start-up: its own exit and stderr are the error, without waiting for the bound', async () => {
    const error = await failure(Fauxqs.start({ nodeArgs: ['-e', 'console.error("cannot start: no luck"); process.exit(3)'], readyTimeoutMs: 600_000 }));
    expect(error.message).toMatch(/^fauxqs \(pid \d+\) exited with code 3 before it printed its "listening" line .*; its stderr ends with:\ncannot start: no luck$/);
    expect(stillRunning()).toEqual([]);
  });

  it('fauxqs on a port that is taken: the real server fails with EADDRINUSE, and that is the error', async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken!.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const error = await failure(Fauxqs.start({ port }));
    expect(error.message).toMatch(/^fauxqs \(pid \d+\) exited with code 1 before it printed its "listening" line[^]*EADDRINUSE/);
    expect(isAlive(pidIn(error))).toBe(false);
    expect(stillRunning()).toEqual([]);
  });

  it('startWorkerEnvironment whose fauxqs fails: the database it started is closed again, and the error is fauxqs’s own', async () => {
    const error = await failure(startWorkerEnvironment({ queueName: 'harness', fauxqs: { nodeArgs: ['-e', 'process.exit(4)'] } }));
    expect(error.message).toMatch(/^fauxqs \(pid \d+\) exited with code 4 before it printed its "listening" line/);
    expect(stillRunning()).toEqual([]);
    if (engine === 'postgres') {
      const admin = new Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      const left = await admin.query('select datname from pg_database where datname like $1', [`lt_test_${process.pid}_%`]).finally(() => admin.end());
      expect(left.rows).toEqual([]);
    }
  });

  it('a test database whose migrations fail is closed (and dropped) again; the migration’s error is the error', async () => {
    class Broken extends Migration {
      override async up(): Promise<void> {
        throw new Error('migration up failed on purpose');
      }
    }
    const error = await failure(createTestOrm({ migrate: false, migrationsList: [{ name: 'Migration20990101000000Broken', class: Broken }] }));
    expect(error.message).toMatch(/migration up failed on purpose/);
    expect(stillRunning()).toEqual([]);
  });

  it('teardown after a failed start is quiet: stopWorkerEnvironment with nothing started, and a second stop, do not throw', async () => {
    await expect(stopWorkerEnvironment(undefined)).resolves.toBeUndefined();
    await expect(stopWorkerEnvironment({})).resolves.toBeUndefined();
    const fauxqs = await Fauxqs.start();
    await fauxqs.stop();
    await expect(fauxqs.stop()).resolves.toBeUndefined();
    expect(isAlive(fauxqs.pid!)).toBe(false);
  });
});

describe('The fauxqs child cannot outlive or hang its parent', () => {
  let dir: string;
  let bundle: string;
  beforeAll(async () => {
    // Fauxqs.start as a plain Node.js program (bundled; the SDK stays in node_modules), run in a parent process of its own.
    mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
    dir = mkdtempSync(path.join(ROOT, '.tmp', 'fauxqs-parent-'));
    bundle = path.join(dir, 'fauxqs.js');
    await build({
      entryPoints: [path.join(SUPPORT, 'fauxqs.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: bundle,
      external: ['@aws-sdk/*'],
      define: { __dirname: JSON.stringify(SUPPORT) }, // where fauxqs-server.mjs and the preload are
      logLevel: 'silent',
    });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a parent that starts fauxqs and never stops it exits on its own (the child does not hold it), and the child then exits', async () => {
    const program = `require(${JSON.stringify(bundle)}).Fauxqs.start().then((f) => console.log('CHILD ' + f.pid))`;
    const { stdout } = await run(process.execPath, ['-e', program], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 90_000 });
    const pid = Number(/CHILD (\d+)/.exec(stdout)![1]);
    await gone(pid);
  });

  it('a parent killed with SIGKILL (no clean-up of its own runs): the child sees its stdin close and exits', async () => {
    const program = `require(${JSON.stringify(bundle)}).Fauxqs.start().then((f) => { console.log('CHILD ' + f.pid); setInterval(() => {}, 1000); })`;
    const parent = spawn(process.execPath, ['-e', program], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const pid = await new Promise<number>((resolve, reject) => {
      parent.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /CHILD (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before fauxqs was ready: ${out}`)));
    });
    expect(isAlive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await gone(pid);
  });
});

describe('The end of a test file', () => {
  it('stops what the file left running and fails the file naming it; jest in one process does not hang on it', async () => {
    // jest in a process of its own, in band (the case that hung), on a fixture that starts fauxqs and never stops it.
    const jest = path.join(ROOT, 'node_modules/jest/bin/jest.js');
    const args = [jest, '--ci', '--runInBand', '--reporters', 'default', '--testMatch', '<rootDir>/test/harness/fixtures/leaks-fauxqs.fixture.ts'];
    const outcome = await run(process.execPath, args, { cwd: ROOT, timeout: 180_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string; killed?: boolean }) => ({ code: error.killed ? -1 : error.code, output: error.stdout + error.stderr }),
    );
    const pid = Number(/FAUXQS_PID (\d+)/.exec(outcome.output)?.[1]);
    expect(outcome.code).toBe(1); // finished (not killed by the timeout), and failed
    expect(outcome.output).toContain(`This test file left running: fauxqs (pid ${pid}); stopped now.`);
    expect(outcome.output).toMatch(/Tests: {7}1 passed, 1 total/);
    expect(isAlive(pid)).toBe(false);
  });
});

// Last in this file: after stopStillRunning() the file counts as ended (anything started later is stopped at once).
describe('Function: stopStillRunning()', () => {
  it('waits no longer than its bound for a stop that hangs, and names it; a teardown that hangs is reported by that teardown', async () => {
    started('a thing whose stop hangs', () => new Promise(() => undefined));
    started('a thing that stops', async () => undefined);
    const forget = started('a thing its file stopped', async () => undefined);
    forget();
    expect(await stopStillRunning(200)).toEqual(['a thing whose stop hangs (did not stop within 200 ms)', 'a thing that stops']);
  });
});

