// Shared pieces of the benchmarks: one JSON line per figure, the database, the scale.
// The library's log lines are off in benchmarks (stdout carries the figures only); LAMBDA_TASKS_LOG_LEVEL=info turns them on.
process.env.LAMBDA_TASKS_LOG_LEVEL ??= 'silent';
import { MikroORM } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { lambdaTasksMigrations } from '../src/runtime/migrations';
import { withLambdaTasks } from '../src/runtime/with-lambda-tasks';

/** `BENCH_SCALE=0.01` runs a tiny version (the test does); 1 is the full size. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
export const scaled = (n: number) => Math.max(10, Math.round(n * SCALE));

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: number | null;
  readonly ratio: number | null;
}

/** Prints one figure as a JSON line. */
export function emit(name: string, value: number, unit: string, baseline: number | null = null): Figure {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const figure = { name, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio: baseline ? round(value / baseline) : null };
  process.stdout.write(`${JSON.stringify(figure)}\n`);
  return figure;
}

export function summary(text: string): void {
  process.stdout.write(`# ${text}\n`);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A fresh database on DATABASE_URL (required: the figures are about PostgreSQL), with the library's migration. */
export async function benchDatabase(options: { entities?: unknown[]; poolMax?: number } = {}): Promise<{ orm: MikroORM; url: string; close(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('the benchmarks need PostgreSQL: set DATABASE_URL (the role needs CREATEDB)');
  const name = `lt_bench_${process.pid}_${Date.now()}`;
  const admin = new Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const orm = await MikroORM.init(
    withLambdaTasks({
      driver: PostgreSqlDriver,
      clientUrl: url.toString(),
      entities: (options.entities ?? []) as never,
      extensions: [Migrator],
      migrations: { migrationsList: lambdaTasksMigrations, snapshot: false, silent: true },
      pool: { min: 0, max: options.poolMax ?? 10 },
      allowGlobalContext: true,
    }),
  );
  await orm.migrator.up(); // MikroORM 6.6 and 7
  return {
    orm,
    url: url.toString(),
    async close() {
      await orm.close(true);
      const drop = new Client({ connectionString: base });
      await drop.connect();
      await drop.query(`drop database if exists "${name}" with (force)`);
      await drop.end();
    },
  };
}

/** Counts the SQL statements an ORM sends, from knex's query event. */
export function countQueries(orm: MikroORM): { readonly count: number; reset(): void } {
  let count = 0;
  ((orm.em as EntityManager).getConnection().getKnex() as unknown as { on(event: string, fn: () => void): void }).on('query', () => count++);
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
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
