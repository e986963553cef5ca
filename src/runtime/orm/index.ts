/**
 * The ORM seam: the one place that uses MikroORM's SQL internals (see {@link OrmSeam}). The other
 * runtime modules call these functions and never touch knex, kysely or the driver.
 */
import type { EntityManager, MikroORM, Options, TransactionEventArgs } from '@mikro-orm/core';
import { MikroORM as PostgreSqlMikroORM } from '@mikro-orm/postgresql';
import { knexSeam } from './knex';
import { kyselySeam } from './kysely';
import type { OrmSeam } from './seam';
import { ConfigurationError } from '../errors';

export type { OrmSeam } from './seam';

/** The seam for the installed MikroORM, chosen by what its SQL connection offers: knex (6) or kysely (7). */
function seamOf(em: EntityManager): OrmSeam {
  const connection = (em as unknown as { getConnection?: () => { getKnex?: unknown; getClient?: unknown } }).getConnection?.();
  if (typeof connection?.getKnex === 'function') return knexSeam;
  if (typeof connection?.getClient === 'function') return kyselySeam;
  throw new ConfigurationError('em', 'cdk-lambda-tasks needs an SQL EntityManager of MikroORM 6.6+ or 7 with @mikro-orm/postgresql (or a PGlite driver for MikroORM 6)');
}

/** Forwards `beforeTransactionStart` (the dispatch subscriber's hook) to the seam. */
export function transactionStarting(args: TransactionEventArgs): void {
  seamOf(args.em).transactionStarting?.(args);
}

/** Forwards `afterTransactionStart` (the dispatch subscriber's hook) to the seam. */
export function transactionStarted(args: TransactionEventArgs): void {
  seamOf(args.em).transactionStarted?.(args);
}

/** Runs one statement with bound parameters in the em's current transaction, if any, and returns its rows. */
export function queryRows<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return seamOf(em).query<T>(em, sql, params, 'current');
}

/** Runs one statement with bound parameters outside any transaction of the em (its own pooled connection). */
export function queryRowsOutsideTransaction<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return seamOf(em).query<T>(em, sql, params, 'outside');
}

/** The em's outermost transaction (the key the commit hooks receive), or undefined outside one. */
export function rootTransaction(em: EntityManager): object | undefined {
  return seamOf(em).rootTransaction(em);
}

/**
 * Whether rows written through `em` now could be rolled back without its root transaction: true inside a
 * savepoint, and whenever that cannot be told (then the outbox checks at commit that the rows exist).
 */
export function mayRollBackAlone(em: EntityManager): boolean {
  const current = em.getTransactionContext() as object | undefined;
  return current === undefined || current !== seamOf(em).rootTransaction(em);
}

/** The em's current transaction handle, for {@link stopTransaction}. */
export function currentTransaction(em: EntityManager): unknown {
  return seamOf(em).currentTransaction(em);
}

/** Cancels the statement a transaction may be running and rolls it back (hard timeouts). Never throws. */
export function stopTransaction(em: EntityManager, transaction: unknown): Promise<void> {
  return seamOf(em).stopTransaction(em, transaction);
}

/** After a failed transaction: discards connections the server closed that the ORM still holds. Never throws. */
export async function releaseBrokenConnections(em: EntityManager): Promise<void> {
  try {
    await seamOf(em).releaseBrokenConnections?.(em);
  } catch {
    // Best effort: at worst the pool keeps a dead connection, as it would without this.
  }
}

/** Whether the em's ORM knows the entity of that class name. */
export function hasEntity(em: EntityManager, className: string): boolean {
  return seamOf(em).hasEntity(em, className);
}

/**
 * Initialises MikroORM on PostgreSQL (the app's installed major) with the pool capped at `poolMax` (the
 * worker's cold start). `pool` has the same shape in MikroORM 6 (tarn) and 7 (pg Pool): `{ min, max, … }`.
 */
export async function initOrm(config: Options, poolMax: number): Promise<MikroORM> {
  const pool = { ...(config as { pool?: Record<string, unknown> }).pool, max: poolMax };
  // A worker never creates a database: a mistyped name must fail, not make a new empty one.
  const options = { ...config, pool, ensureDatabase: false } as Options as Parameters<typeof PostgreSqlMikroORM.init>[0];
  return (await PostgreSqlMikroORM.init(options)) as unknown as MikroORM;
}
