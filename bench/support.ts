// Shared pieces of the benchmarks: one JSON line per figure on stdout (nothing else goes there), interleaved
// rounds of baseline and subject, the database, the scale, a statement counter that works on MikroORM 6 and 7.
// The library's log lines are off in benchmarks; LAMBDA_TASKS_LOG_LEVEL=info turns them on (on stderr).
process.env.LAMBDA_TASKS_LOG_LEVEL ??= 'silent';
import { createRequire } from 'node:module';
import { MikroORM } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { lambdaTasksMigrations } from '../src/runtime/migrations';
import { withLambdaTasks } from '../src/runtime/with-lambda-tasks';

/** `BENCH_SCALE=0.01` runs a tiny version (the test does); 1 is the full size. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
export const scaled = (n: number, floor = 10) => Math.max(floor, Math.round(n * SCALE));
/** Interleaved rounds: at least 5 at full size, 2 in the tiny run. */
export const ROUNDS = SCALE < 1 ? 2 : Number(process.env.BENCH_ROUNDS ?? 7);

/** The MikroORM major the benchmarks run on; figures that depend on it get the suffix `.mo7` on MikroORM 7. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const MIKRO_ORM_MAJOR = Number((require('@mikro-orm/core/package.json') as { version: string }).version.split('.')[0]);
const ORM_SUFFIX = MIKRO_ORM_MAJOR >= 7 ? `.mo${MIKRO_ORM_MAJOR}` : '';

export interface Figure {
  readonly name: string;
  /** The subject's median over the rounds. */
  readonly value: number;
  /** The baseline's median over the same rounds, or null for a figure without one. */
  readonly baseline: number | null;
  /** The median of the per-round ratios subject / baseline (null without a baseline). */
  readonly ratio: number | null;
  readonly unit: string;
  /** Max − min over the rounds: of the per-round ratio when there is a baseline, of the value otherwise. */
  readonly spread: number;
  readonly rounds: number;
  /** The aim for this figure (`<= 1.3`, `>= 0.8`), or null when only reported. */
  readonly aim: string | null;
}

export interface FigureOptions {
  readonly unit: string;
  /** Per-round values of the baseline (same length as the subject's), or one fixed baseline value. */
  readonly baseline?: readonly number[] | number;
  readonly aim?: string;
  /** The figure depends on MikroORM: `.mo7` is appended on MikroORM 7. */
  readonly ormDependent?: boolean;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs: readonly number[]) => Math.max(...xs) - Math.min(...xs);

/** Prints one figure as a JSON line on stdout: medians of the rounds, the median per-round ratio, the spread. */
export function emit(name: string, subject: readonly number[] | number, options: FigureOptions): Figure {
  const values = typeof subject === 'number' ? [subject] : subject;
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new Error(`${name}: no finite values (${values.join(', ')})`);
  const baselines = options.baseline === undefined ? null : typeof options.baseline === 'number' ? values.map(() => options.baseline as number) : options.baseline;
  if (baselines && baselines.length !== values.length) throw new Error(`${name}: ${values.length} subject rounds but ${baselines.length} baseline rounds`);
  const ratios = baselines ? values.map((v, i) => v / baselines[i]) : null;
  const figure: Figure = {
    name: `${name}${options.ormDependent ? ORM_SUFFIX : ''}`,
    value: round3(median(values)),
    baseline: baselines ? round3(median(baselines)) : null,
    ratio: ratios ? round3(median(ratios)) : null,
    unit: options.unit,
    spread: round3(range(ratios ?? values)),
    rounds: values.length,
    aim: options.aim ?? null,
  };
  process.stdout.write(`${JSON.stringify(figure)}\n`);
  return figure;
}

/** A human line on stderr (stdout carries the JSON figures only). */
export function summary(text: string): void {
  process.stderr.write(`# ${text}\n`);
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs baseline and subject alternately, `rounds` times after one unmeasured warm-up of each; the order flips
 * every round (ABBA) so neither side always runs on a warmer cache. Each call returns its own measurement.
 */
export async function interleave(rounds: number, baseline: () => Promise<number>, subject: () => Promise<number>): Promise<{ baseline: number[]; subject: number[] }> {
  await baseline();
  await subject();
  const out = { baseline: [] as number[], subject: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      out.baseline.push(await baseline());
      out.subject.push(await subject());
    } else {
      out.subject.push(await subject());
      out.baseline.push(await baseline());
    }
  }
  return out;
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** A fresh, empty database on DATABASE_URL (required: the figures are about PostgreSQL); drop it with `drop()`. */
export async function freshDatabase(tag: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('the benchmarks need PostgreSQL: set DATABASE_URL (the role needs CREATEDB)');
  const name = `lt_bench_${tag}_${process.pid}_${Date.now()}`;
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const drop = new Client({ connectionString: base });
      await drop.connect();
      try {
        await drop.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await drop.end();
      }
    },
  };
}

/** A fresh database with the library's migrations and an ORM on it (MikroORM 6.6 or 7, whichever is installed). */
export async function benchDatabase(options: { entities?: unknown[]; poolMax?: number; tag?: string } = {}): Promise<{ orm: MikroORM; url: string; close(): Promise<void> }> {
  const db = await freshDatabase(options.tag ?? 'orm');
  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init(
      withLambdaTasks({
        driver: PostgreSqlDriver,
        clientUrl: db.url,
        entities: (options.entities ?? []) as never,
        extensions: [Migrator],
        migrations: { migrationsList: lambdaTasksMigrations, snapshot: false, silent: true },
        pool: { min: 0, max: options.poolMax ?? 10 },
        allowGlobalContext: true,
      }),
    );
    await orm.migrator.up(); // MikroORM 6.6 and 7
  } catch (error) {
    await orm?.close(true);
    await db.drop();
    throw error;
  }
  const ready = orm;
  return {
    orm: ready,
    url: db.url,
    async close() {
      await ready.close(true);
      await db.drop();
    },
  };
}

/** Every copy of `pg` the ORM and the baselines may use: the project's, and the one next to the MikroORM driver. */
function pgClientClasses(): { prototype: { query: (...args: unknown[]) => unknown } }[] {
  const copies = new Set<{ prototype: { query: (...args: unknown[]) => unknown } }>();
  for (const from of [__filename, require.resolve('@mikro-orm/postgresql'), require.resolve('@mikro-orm/knex')]) {
    try {
      copies.add((createRequire(from)('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } }).Client);
    } catch {
      // not installed there (MikroORM 7 has no @mikro-orm/knex)
    }
  }
  return [...copies];
}

/**
 * Counts the statements sent to PostgreSQL by every `pg` client in this process (MikroORM 6's knex and
 * MikroORM 7's kysely both go through `pg.Client#query`, as do the raw baselines): one round trip each.
 */
export function countStatements(): { readonly count: number; reset(): void; stop(): void } {
  let count = 0;
  const patched = pgClientClasses().map((PgClient) => {
    const original = PgClient.prototype.query;
    PgClient.prototype.query = function (this: unknown, ...args: unknown[]) {
      count++;
      return original.apply(this, args);
    };
    return () => (PgClient.prototype.query = original);
  });
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
    stop() {
      for (const restore of patched) restore();
    },
  };
}

/** Runs `main`, exits non-zero on error. */
export function run(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
