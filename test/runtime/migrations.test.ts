// The shipped migrations' upgrade rules: the third makes (root_id, attempt) unique on a table that already
// holds duplicates (concurrent retryTask calls made them before it) without failing or losing a row, and every
// migration gives up after its lock timeout instead of queueing the table's traffic behind it, whether
// MikroORM runs it in a transaction or not (`migrations.transactional: false`).
import { Client } from 'pg';
import { lambdaTasksMigrations } from '../../src/runtime/migrations';
import { createTestOrm, engine, executedMigrationNames, itOnPostgres, migratorOf, type TestDatabase } from '../support/database';

const [first, second, third] = lambdaTasksMigrations.map((m) => m.name);

interface Row {
  id: string;
  root_id: string;
  attempt: number;
  status: string;
  note: string | null;
}

describe(`The third shipped migration: one row per (root_id, attempt) (${engine})`, () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  const insert = (d: TestDatabase, row: { id: string; root: string; attempt: number; status: string; minutesAgo: number }) =>
    d.sql(
      `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout, enqueued_at)
       values (?, 'old.task', '{}'::jsonb, 'default', ?, ?, ?, 60, timestamptz '2026-12-01 12:00:00Z' - (? || ' minutes')::interval)`,
      [row.id, row.status, row.attempt, row.root, row.minutesAgo],
    );
  const digestOf = async (d: TestDatabase, where: string, params: unknown[] = []) =>
    (await d.sql<{ n: number; digest: string }>(`select count(*)::int as n, md5(string_agg(t::text, ',' order by id)) as digest from task_record t where ${where}`, params))[0];

  it('is the third migration, after CANCELLED', () => {
    expect(lambdaTasksMigrations.map((m) => m.name)).toEqual([first, second, 'Migration20261203000000LambdaTasksUniqueAttempt']);
  });

  it('upgrades a table holding duplicate attempts: every row is kept, the later duplicates become roots of their own with a note, and the index then refuses a duplicate', async () => {
    db = await createTestOrm({ migrateTo: second });
    await db.sql(`insert into task_record (id, task_name, kwargs, queue, status, root_id, hard_timeout, enqueued_at)
      select gen_random_uuid(), 'old.task', jsonb_build_object('n', i), 'default',
             (array['QUEUED','RUNNING','SUCCESS','FAILED','RETRYING','CANCELLED'])[1 + i % 6], gen_random_uuid(), 60, now() - (i || ' minutes')::interval
        from generate_series(1, 5000) as i`);
    await db.sql('update task_record set root_id = id');
    const untouched = await digestOf(db, 'true');
    // Root a: attempt 1 FAILED, then three attempt-2 rows (two operators' retries and a third); root b: attempt 2 twice and attempt 3 twice.
    const [a, a2, a2b, a2c, b, b2, b2b, b3, b3b] = Array.from({ length: 9 }, () => globalThis.crypto.randomUUID());
    await insert(db, { id: a, root: a, attempt: 1, status: 'FAILED', minutesAgo: 10 });
    await insert(db, { id: a2, root: a, attempt: 2, status: 'SUCCESS', minutesAgo: 9 });
    await insert(db, { id: a2b, root: a, attempt: 2, status: 'FAILED', minutesAgo: 8 });
    await insert(db, { id: a2c, root: a, attempt: 2, status: 'QUEUED', minutesAgo: 7 });
    await insert(db, { id: b, root: b, attempt: 1, status: 'CANCELLED', minutesAgo: 10 });
    await insert(db, { id: b2b, root: b, attempt: 2, status: 'RETRYING', minutesAgo: 8 });
    await insert(db, { id: b2, root: b, attempt: 2, status: 'RETRYING', minutesAgo: 9 });
    await insert(db, { id: b3, root: b, attempt: 3, status: 'RUNNING', minutesAgo: 7 });
    await insert(db, { id: b3b, root: b, attempt: 3, status: 'QUEUED', minutesAgo: 7 });

    await migratorOf(db.orm).up();

    expect(await executedMigrationNames(db.orm)).toEqual(lambdaTasksMigrations.map((m) => m.name));
    expect(await digestOf(db, "task_name = 'old.task' and kwargs <> '{}'::jsonb")).toEqual(untouched);
    const rows = new Map((await db.sql<Row>("select id, root_id, attempt, status, note from task_record where kwargs = '{}'::jsonb")).map((r) => [r.id, r]));
    expect(rows.size).toBe(9);
    // The first row of each (root, attempt) stays in its history; the later ones keep their attempt, status and data.
    for (const id of [a, a2, b, b2]) expect(rows.get(id)).toMatchObject({ root_id: id === a2 ? a : id === b2 ? b : id, note: null });
    expect(rows.get(b3)!.root_id === b || rows.get(b3b)!.root_id === b).toBe(true); // same enqueued_at: the smaller id stays
    const split = [a2b, a2c, b2b, b3 < b3b ? b3b : b3];
    for (const id of split) {
      const row = rows.get(id)!;
      const root = [a2b, a2c].includes(id) ? a : b;
      expect(row).toMatchObject({ root_id: id, attempt: [a2b, a2c].includes(id) ? 2 : id === b2b ? 2 : 3 });
      expect(row.note).toBe(`split from task ${root} by migration 3: a second attempt ${row.attempt} of it (concurrent retryTask calls)`);
    }
    expect(rows.get(a2c)!.status).toBe('QUEUED');
    // Each split row is a history of its own: its own retry (attempt + 1) and a retry of the kept chain do not collide.
    await insert(db, { id: globalThis.crypto.randomUUID(), root: a2c, attempt: 3, status: 'QUEUED', minutesAgo: 0 });
    await insert(db, { id: globalThis.crypto.randomUUID(), root: a, attempt: 3, status: 'QUEUED', minutesAgo: 0 });
    await expect(insert(db, { id: globalThis.crypto.randomUUID(), root: a, attempt: 3, status: 'QUEUED', minutesAgo: 0 })).rejects.toThrow(/task_record_root_attempt_unique/);

    await migratorOf(db.orm).down();
    expect(await executedMigrationNames(db.orm)).toEqual([first, second]);
    await insert(db, { id: globalThis.crypto.randomUUID(), root: a, attempt: 3, status: 'QUEUED', minutesAgo: 0 }); // the index is gone
    expect((await db.sql<{ n: number }>("select count(*)::int as n from task_record where kwargs = '{}'::jsonb"))[0].n).toBe(12);
  });

  // PostgreSQL only: PGlite (one backend) fails a concurrent index build with "tuple concurrently updated".
  itOnPostgres('keeps a valid index of that name (built beforehand with create index concurrently), and builds again an invalid one (a concurrent build that failed)', async () => {
    const validity = async (d: TestDatabase) =>
      (await d.sql<{ valid: boolean }>("select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'task_record_root_attempt_unique'")).map((r) => r.valid);
    db = await createTestOrm({ migrateTo: second });
    await db.sql('create unique index concurrently "task_record_root_attempt_unique" on "task_record" ("root_id", "attempt")');
    await migratorOf(db.orm).up();
    expect(await executedMigrationNames(db.orm)).toEqual(lambdaTasksMigrations.map((m) => m.name));
    expect(await validity(db)).toEqual([true]);
    await db.close();

    db = await createTestOrm({ migrateTo: second });
    const root = globalThis.crypto.randomUUID();
    await insert(db, { id: root, root, attempt: 1, status: 'FAILED', minutesAgo: 3 });
    for (const minutesAgo of [2, 1]) await insert(db, { id: globalThis.crypto.randomUUID(), root, attempt: 2, status: 'FAILED', minutesAgo });
    await expect(db.sql('create unique index concurrently "task_record_root_attempt_unique" on "task_record" ("root_id", "attempt")')).rejects.toThrow(/duplicate key|could not create unique index/);
    expect(await validity(db)).toEqual([false]);
    await migratorOf(db.orm).up();
    expect(await validity(db)).toEqual([true]);
    expect((await db.sql<{ n: number }>('select count(*)::int as n from task_record'))[0].n).toBe(3);
  });
});

describe(`Every shipped migration gives up after its lock timeout (${engine})`, () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  /** Resolves with what `up()` did, or 'still waiting' after 30 s (then the holder lets go, so nothing hangs). */
  async function upBehind(d: TestDatabase, holder: Client): Promise<{ outcome: string; ms: number }> {
    const startedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      migratorOf(d.orm).up().then(() => 'migrated', (error: unknown) => `failed: ${String(error)}`),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), 30_000))),
    ]);
    clearTimeout(timer);
    const ms = Date.now() - startedAt;
    await holder.query('rollback').catch(() => undefined);
    return { outcome, ms };
  }

  const cases: [string, string, string, string][] = [
    ['CANCELLED', first, second, 'access share'], // a long reader is enough to block an alter table
    ['one row per attempt', second, third, 'row exclusive'], // an open writer blocks the index build
  ];
  for (const transactional of [true, false]) {
    for (const [what, from, migration, mode] of cases) {
      itOnPostgres(`${what}, transactional: ${transactional}: behind a transaction holding ${mode} on task_record it fails after about 5 s with a clear error; run again, it succeeds`, async () => {
        db = await createTestOrm({ migrateTo: from, migrationsTransactional: transactional, poolMax: 2 });
        const holder = new Client({ connectionString: db.url });
        await holder.connect();
        try {
          await holder.query('begin');
          await holder.query(`lock table task_record in ${mode} mode`);
          const { outcome, ms } = await upBehind(db, holder);
          expect(outcome).toMatch(/^failed: .*could not lock task_record within 5 s/s);
          expect(ms).toBeGreaterThanOrEqual(4_500);
          expect(ms).toBeLessThan(20_000);
          expect(await executedMigrationNames(db.orm)).not.toContain(migration);
        } finally {
          await holder.end();
        }
        await migratorOf(db.orm).up();
        expect(await executedMigrationNames(db.orm)).toEqual(lambdaTasksMigrations.map((m) => m.name));
        // The timeout was the migration's own: the pool's connections are back to the server default.
        const settings = await Promise.all([db.sql<{ lock_timeout: string }>('show lock_timeout'), db.sql<{ lock_timeout: string }>('show lock_timeout')]);
        expect(settings.map(([s]) => s.lock_timeout)).toEqual(['0', '0']);
      });
    }
  }
});
