import { randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { MikroORM, type IMigrator, type ISchemaGenerator, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { lambdaTasksMigrations } from '../../src/runtime/migrations';
import { withLambdaTasks } from '../../src/runtime/with-lambda-tasks';

/** Which database engine the tests run on: real PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export const engine: 'postgres' | 'pglite' = process.env.DATABASE_URL ? 'postgres' : 'pglite';

/** `it` that runs only on real PostgreSQL (tests that need two connections at once). */
export const itOnPostgres: jest.It = engine === 'postgres' ? it : it.skip;

export interface TestDatabase {
  readonly orm: MikroORM;
  readonly em: EntityManager;
  readonly engine: 'postgres' | 'pglite';
  /** The connection URL of this file's own database (PostgreSQL only). */
  readonly url?: string;
  /** Runs SQL outside the ORM's unit of work and returns the rows. */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface TestOrmOptions {
  readonly entities?: Options['entities'];
  readonly subscribers?: Options['subscribers'];
  /** App migrations applied after the library's. */
  readonly migrationsList?: { name: string; class: new (...args: never[]) => object }[];
  /** Apply the shipped migrations (default true). */
  readonly migrate?: boolean;
  /** Apply the migrations only up to this one (a later `migratorOf(orm).up()` applies the rest). */
  readonly migrateTo?: string;
  readonly poolMax?: number;
}

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The ORM's migrator: `orm.migrator` in MikroORM 7, `orm.getMigrator()` in 6 (the tests run on both). */
export function migratorOf(orm: MikroORM): IMigrator {
  const v7 = (orm as unknown as { migrator?: IMigrator }).migrator;
  return v7 ?? (orm as unknown as { getMigrator(): IMigrator }).getMigrator();
}

/** The names of the migrations the ORM's migrator has run (`getExecuted()` in MikroORM 7, `getExecutedMigrations()` in 6). */
export async function executedMigrationNames(orm: MikroORM): Promise<string[]> {
  const migrator = migratorOf(orm) as unknown as { getExecuted?(): Promise<{ name: string }[]>; getExecutedMigrations(): Promise<{ name: string }[]> };
  return (await (migrator.getExecuted?.() ?? migrator.getExecutedMigrations())).map((m) => m.name);
}

/** The ORM's schema generator: `orm.schema` in MikroORM 7, `orm.getSchemaGenerator()` in 6. */
export function schemaGeneratorOf(orm: MikroORM): ISchemaGenerator {
  const v7 = (orm as unknown as { schema?: ISchemaGenerator }).schema;
  return v7 ?? orm.getSchemaGenerator();
}

/**
 * An ORM for one test file: on PostgreSQL a fresh database (created here, dropped on close,
 * so files can run in parallel without sharing advisory locks), else one embedded PGlite.
 * The library's migration is applied with the app's migrator.
 */
export async function createTestOrm(options: TestOrmOptions = {}): Promise<TestDatabase> {
  const migrationsList = [...(options.migrate === false ? [] : lambdaTasksMigrations), ...(options.migrationsList ?? [])];
  const common = {
    entities: options.entities ?? [],
    subscribers: options.subscribers ?? [],
    extensions: [Migrator],
    migrations: { migrationsList: migrationsList as never, transactional: true, snapshot: false, silent: true },
    allowGlobalContext: true,
    debug: process.env.LAMBDA_TASKS_SQL_DEBUG === '1',
  };
  let orm: MikroORM;
  let url: string | undefined;
  let dbName: string | undefined;
  let pglite: PGlite | undefined;
  if (engine === 'postgres') {
    dbName = `lt_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    await adminQuery(`create database "${dbName}"`);
    url = databaseUrl(process.env.DATABASE_URL!, dbName);
    orm = await MikroORM.init(withLambdaTasks({ ...common, driver: PostgreSqlDriver, clientUrl: url, pool: { min: 0, max: options.poolMax ?? 6 } }));
  } else {
    // Loaded only here: mikro-orm-pglite needs MikroORM 6 (the MikroORM 7 lane runs on PostgreSQL only).
    const [{ PGlite: PGliteClass }, { PGliteDriver }] = await Promise.all([import('@electric-sql/pglite'), import('mikro-orm-pglite')]);
    // A borrowed instance, closed here; PGlite loads its wasm with import(): jest runs with --experimental-vm-modules.
    const instance = new PGliteClass();
    pglite = instance;
    orm = await MikroORM.init(withLambdaTasks({ ...common, driver: PGliteDriver, dbName: 'postgres', driverOptions: { connection: { pglite: () => instance } } }));
  }
  if (migrationsList.length > 0) await migratorOf(orm).up(options.migrateTo ? { to: options.migrateTo } : undefined);
  const em = orm.em.fork() as EntityManager;
  return {
    orm,
    em,
    engine,
    url,
    async sql<T>(query: string, params: unknown[] = []): Promise<T[]> {
      return (await (orm.em as EntityManager).getConnection().execute(query, params, 'all')) as T[];
    },
    async close() {
      await orm.close(true);
      await pglite?.close();
      if (dbName) await adminQuery(`drop database if exists "${dbName}" with (force)`);
    },
  };
}
