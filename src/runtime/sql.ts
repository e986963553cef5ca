import type { EntityManager } from '@mikro-orm/core';
import type { EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import { ConfigurationError } from './errors';

/** The SQL EntityManager behind a core `EntityManager` (PostgreSQL or PGlite driver). */
export function sqlEntityManager(em: EntityManager): SqlEntityManager {
  if (typeof (em as unknown as Partial<SqlEntityManager>).execute !== 'function') {
    throw new ConfigurationError('em', 'cdk-lambda-tasks needs an SQL EntityManager (MikroORM with @mikro-orm/postgresql)');
  }
  return em as unknown as SqlEntityManager;
}

/** Runs one statement in the em's current transaction (if any) and returns its rows. */
export async function queryRows<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return (await sqlEntityManager(em).execute(sql, [...params], 'all')) as T[];
}

/** Runs one statement outside any transaction of the em (on its own pooled connection) and returns its rows. */
export async function queryRowsOutsideTransaction<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return (await sqlEntityManager(em).getConnection().execute(sql, [...params], 'all')) as T[];
}
