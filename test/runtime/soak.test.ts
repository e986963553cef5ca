import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { NonRetriableError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { runLocalWorker } from '../../src/runtime/local-worker';
import { runMaintenance } from '../../src/runtime/maintenance';
import { engine, type TestDatabase } from '../support/database';
import { enqueue } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class Transient extends Error {
  override name = 'Transient';
}

const effect = async (em: import('@mikro-orm/core').EntityManager, rootId: string | null, taskId: string | null) =>
  (em as EntityManager).execute('insert into soak_effect (root_id, task_id) values (?, ?)', [rootId, taskId]);

const plain = lambdaTask({ name: 'soak.plain', args: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
  await effect(ctx.em, ctx.rootId, ctx.taskId);
  return n;
});
const flaky = lambdaTask({ name: 'soak.flaky', args: z.object({ n: z.number() }), retryOn: [Transient], maxRetries: 2, retryDelay: 1 }, async ({ n }, ctx) => {
  if (ctx.attempt === 1) throw new Transient(`first attempt of ${n} fails`);
  await effect(ctx.em, ctx.rootId, ctx.taskId);
  return n;
});
const doomed = lambdaTask({ name: 'soak.doomed', args: z.object({ n: z.number() }), retryOn: [Transient] }, async ({ n }, ctx) => {
  await effect(ctx.em, ctx.rootId, ctx.taskId); // rolled back with the failure
  throw new NonRetriableError(`task ${n} can never work`);
});
const single = lambdaTask({ name: 'soak.single', args: z.object({ n: z.number() }), singleton: ({ n }) => String(n % 3), retryDelay: 1 }, async ({ n }, ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  await effect(ctx.em, ctx.rootId, ctx.taskId);
  return n;
});

const TRANSACTIONS = 100;
const TASKS_PER_TRANSACTION = 50;

/** Which task, and whether delayed, for the n-th invocation. */
function plan(n: number): { kind: 'plain' | 'flaky' | 'doomed' | 'single'; delay: number } {
  const kind = n % 20 === 0 ? 'doomed' : n % 7 === 0 ? 'flaky' : n % 50 === 3 ? 'single' : 'plain';
  return { kind, delay: n % 11 === 0 ? 1 + (n % 2) : 0 };
}

const describeOnPostgres = engine === 'postgres' ? describe : describe.skip;
if (engine !== 'postgres') {
  // Printed so a PGlite run says why it has no soak figures.
  console.log('soak test skipped: it needs PostgreSQL (DATABASE_URL) for concurrent transactions and two worker loops');
}

describeOnPostgres('Soak: 5,000 tasks through the whole path, with exact accounting (PostgreSQL)', () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const fork = () => db.orm.em.fork() as EntityManager;

  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'soak', visibilityTimeout: 120, poolMax: 16 }));
    await db.sql('create table soak_effect (id serial primary key, root_id uuid not null, task_id uuid not null)');
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    for (const method of ['info', 'warn'] as const) jest.spyOn(console, method).mockImplementation(() => undefined);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    jest.restoreAllMocks();
    await stopWorkerEnvironment({ db, fauxqs });
  });

  it('runs every committed task exactly once to a terminal status, and no rolled-back task at all', async () => {
    const started = Date.now();
    const controller = new AbortController();
    const tasks = [plain, flaky, doomed, single];
    const workers = [1, 2].map(() =>
      runLocalWorker({ handler: createHandler({ tasks, orm: db.orm, concurrency: 4 }), queueUrls: [queue.url], sqsClient: fauxqs.client, signal: controller.signal, waitTimeSeconds: 1 }),
    );

    const committed: { id: string; kind: string }[] = [];
    const rolledBack: string[] = [];
    const transaction = async (t: number) => {
      const ids: { id: string; kind: string }[] = [];
      const rollBack = t % 10 === 9; // a tenth of the transactions
      await enqueue(db, async (em) => {
        for (let i = 0; i < TASKS_PER_TRANSACTION; i++) {
          const n = t * TASKS_PER_TRANSACTION + i;
          const { kind, delay } = plan(n);
          const task = { plain, flaky, doomed, single }[kind];
          ids.push({ id: task.executeOnCommit({ n }, { em, delay }), kind });
          if (i === 25) await em.flush();
        }
        if (rollBack) throw new Error('rolled back on purpose');
      }).catch((error: Error) => {
        if (error.message !== 'rolled back on purpose') throw error;
      });
      if (rollBack) rolledBack.push(...ids.map((x) => x.id));
      else committed.push(...ids);
    };
    for (let t = 0; t < TRANSACTIONS; t += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => transaction(t + k)));
    const enqueuedMs = Date.now() - started;

    const counts = async () =>
      db.sql<{ status: string; n: number }>('select status, count(*)::int as n from task_record group by status order by status');
    const pending = async () => (await db.sql<{ n: number }>("select count(*)::int as n from task_record where status in ('QUEUED', 'RUNNING')"))[0].n;
    let maintained = false;
    // Waits for the state, not the clock: a busy machine (two suites at once on 2 cores) takes three times as long.
    const deadline = Date.now() + 180_000;
    while ((await pending()) > 0 && Date.now() < deadline) {
      if (!maintained && Date.now() - started > 5_000) {
        await runMaintenance({ em: fork() }); // in the middle: relay, sweep, reconcile, cleanup
        maintained = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    controller.abort();
    const stats = await Promise.all(workers);
    const elapsedMs = Date.now() - started;

    const byStatus = Object.fromEntries((await counts()).map((r) => [r.status, r.n]));
    const effects = await db.sql<{ root_id: string; n: number }>('select root_id, count(*)::int as n from soak_effect group by root_id');
    const effectsByRoot = new Map(effects.map((e) => [e.root_id, e.n]));
    const finals = await db.sql<{ root_id: string; status: string }>(
      'select distinct on (root_id) root_id, status from task_record order by root_id, attempt desc',
    );
    const finalByRoot = new Map(finals.map((f) => [f.root_id, f.status]));
    const [queueLeft, dlqLeft] = await Promise.all([fauxqs.count(queue.url), fauxqs.count(queue.dlqUrl)]);
    const expectedFinal = (kind: string) => (kind === 'doomed' ? 'FAILED' : 'SUCCESS');
    const wrongFinal = committed.filter((c) => finalByRoot.get(c.id) !== expectedFinal(c.kind));
    const runsWrong = committed.filter((c) => (effectsByRoot.get(c.id) ?? 0) !== (c.kind === 'doomed' ? 0 : 1));
    const rolledBackRows = (await db.sql<{ n: number }>('select count(*)::int as n from task_record where root_id in (?)', [rolledBack]))[0].n;
    const rolledBackRuns = rolledBack.filter((id) => effectsByRoot.has(id)).length;

    const accounting = {
      enqueued: committed.length + rolledBack.length,
      committed: committed.length,
      rolledBack: rolledBack.length,
      rowsByStatus: byStatus,
      committedWithWrongFinalStatus: wrongFinal.length,
      committedNotRunExactlyOnce: runsWrong.length,
      rolledBackRows,
      rolledBackRuns,
      messagesLeft: { queue: queueLeft.total, dlq: dlqLeft.total },
      workerStats: stats,
      enqueuedMs,
      elapsedMs,
    };
    process.stdout.write(`soak accounting ${JSON.stringify(accounting)}\n`);

    expect(accounting.enqueued).toBe(5000);
    expect(rolledBack).toHaveLength(500);
    expect(wrongFinal.slice(0, 5)).toEqual([]);
    expect(runsWrong.slice(0, 5)).toEqual([]);
    expect(rolledBackRows).toBe(0);
    expect(rolledBackRuns).toBe(0);
    expect(byStatus.QUEUED ?? 0).toBe(0);
    expect(byStatus.RUNNING ?? 0).toBe(0);
    expect(byStatus.RETRYING).toBeGreaterThanOrEqual(committed.filter((c) => c.kind === 'flaky').length);
    expect(accounting.messagesLeft).toEqual({ queue: 0, dlq: 0 });
    expect(maintained).toBe(true);
  }, 240_000);
});
