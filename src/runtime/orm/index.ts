/**
 * The ORM seam: the one place that uses MikroORM's SQL internals (see {@link OrmSeam}). The other
 * runtime modules call these functions and never touch knex, kysely or the driver.
 */
import type { EntityManager, MikroORM, Options } from '@mikro-orm/core';
import { knexSeam } from './knex';
import type { OrmSeam } from './seam';
import { ConfigurationError } from '../errors';

export type { OrmSeam } from './seam';

/** The seam for the installed MikroORM (chosen by what its SQL EntityManager offers). */
function seamOf(em: EntityManager): OrmSeam {
  const connection = (em as unknown as { getConnection?: () => { getKnex?: unknown } }).getConnection?.();
  if (typeof connection?.getKnex === 'function') return knexSeam;
  throw new ConfigurationError('em', 'cdk-lambda-tasks needs an SQL EntityManager of MikroORM 6 with @mikro-orm/postgresql (or its PGlite driver)');
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

/** The em's current transaction handle, for {@link stopTransaction}. */
export function currentTransaction(em: EntityManager): unknown {
  return seamOf(em).currentTransaction(em);
}

/** Cancels the statement a transaction may be running and rolls it back (hard timeouts). Never throws. */
export function stopTransaction(em: EntityManager, transaction: unknown): Promise<void> {
  return seamOf(em).stopTransaction(em, transaction);
}

/** Whether the em's ORM knows the entity of that class name. */
export function hasEntity(em: EntityManager, className: string): boolean {
  return seamOf(em).hasEntity(em, className);
}

/** Initialises MikroORM on PostgreSQL with the pool capped at `poolMax` (the worker's cold start). */
export function initOrm(config: Options, poolMax: number): Promise<MikroORM> {
  return knexSeam.init(config, poolMax);
}
