import { randomBytes } from 'node:crypto';
import { MikroORM, type IMigrator, type ISchemaGenerator, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { started } from '../../examples/support/still-running';
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
  /** MikroORM's `migrations.transactional` (default true: each migration run in one transaction). */
  readonly migrationsTransactional?: boolean;
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
 * An ORM on embedded PGlite: MikroORM 7's own driver (`@mikro-orm/pglite`, installed by the newest lane) when
 * it is there, else `mikro-orm-pglite` (MikroORM 6) with a borrowed instance. Each is loaded only here.
 */
async function initPglite(common: Partial<Options>, undo: (() => Promise<unknown>)[]): Promise<MikroORM> {
  const orm7 = (await import(MIKRO_ORM_7_PGLITE).catch(() => undefined)) as { PgliteDriver: NonNullable<Options['driver']> } | undefined;
  if (orm7) {
    // MikroORM 7's driver owns its in-memory instance and closes it with this ORM. An ORM built from this one's
    // config (a worker's ormConfig in the tests) is handed the same instance, so it sees the same database.
    const orm = await MikroORM.init(withLambdaTasks({ ...common, driver: orm7.PgliteDriver, dbName: 'memory://' }));
    const instance = await (orm.em.getConnection() as unknown as { getNativeClient(): Promise<unknown> }).getNativeClient();
    orm.config.set('driverOptions', { pglite: instance } as never);
    return orm;
  }
  const [{ PGlite }, { PGliteDriver }] = await Promise.all([import('@electric-sql/pglite'), import('mikro-orm-pglite')]);
  // A borrowed instance, closed after the ORM; PGlite loads its wasm with import(): jest runs with --experimental-vm-modules.
  const instance = new PGlite();
  undo.push(() => instance.close()); // runs after the ORM's close (undo steps run last first)
  return MikroORM.init(withLambdaTasks({ ...common, driver: PGliteDriver, dbName: 'postgres', driverOptions: { connection: { pglite: () => instance } } }));
}

/** A variable, so that TypeScript (compiling against MikroORM 6) does not resolve a package that is not installed. */
const MIKRO_ORM_7_PGLITE = '@mikro-orm/pglite';

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
    migrations: { migrationsList: migrationsList as never, transactional: options.migrationsTransactional ?? true, snapshot: false, silent: true },
    allowGlobalContext: true,
    debug: process.env.LAMBDA_TASKS_SQL_DEBUG === '1',
  };
  // Whatever has started is undone if a later step fails (or if the file ends first: see still-running.ts).
  const undo: (() => Promise<unknown>)[] = [];
  const undoAll = async (): Promise<void> => {
    let first: unknown;
    for (const step of undo.splice(0).reverse()) await step().catch((error: unknown) => (first ??= error));
    if (first !== undefined) throw first;
  };
  let forget = started(`test database (${engine}, starting)`, undoAll);
  let orm: MikroORM;
  let url: string | undefined;
  try {
    if (engine === 'postgres') {
      const dbName = `lt_test_${process.pid}_${randomBytes(4).toString('hex')}`;
      await adminQuery(`create database "${dbName}"`);
      undo.push(() => adminQuery(`drop database if exists "${dbName}" with (force)`));
      url = databaseUrl(process.env.DATABASE_URL!, dbName);
      orm = await MikroORM.init(withLambdaTasks({ ...common, driver: PostgreSqlDriver, clientUrl: url, pool: { min: 0, max: options.poolMax ?? 6 } }));
    } else {
      orm = await initPglite(common, undo);
    }
    undo.push(() => orm.close(true));
    if (migrationsList.length > 0) await migratorOf(orm).up(options.migrateTo ? { to: options.migrateTo } : undefined);
  } catch (error) {
    forget();
    await undoAll().catch(() => undefined); // the start-up's own error is the one to report
    throw error;
  }
  forget();
  let closing: Promise<void> | undefined;
  // Forgotten as soon as the file's own teardown asks: if closing hangs, that teardown's timeout reports it, not the end of the file.
  const close = (): Promise<void> => {
    forget();
    return (closing ??= undoAll());
  };
  forget = started(`test database (${engine}${url ? `: ${new URL(url).pathname.slice(1)}` : ''})`, close);
  const em = orm.em.fork() as EntityManager;
  return {
    orm,
    em,
    engine,
    url,
    async sql<T>(query: string, params: unknown[] = []): Promise<T[]> {
      return (await (orm.em as EntityManager).getConnection().execute(query, params, 'all')) as T[];
    },
    /** Closes the ORM (and the PGlite instance) and drops the database; a second call waits for the first. */
    close,
  };
}
