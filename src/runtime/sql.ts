import type { EntityManager } from '@mikro-orm/core';
import type { Knex, EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import { ConfigurationError } from './errors';

/** The SQL EntityManager behind a core `EntityManager` (PostgreSQL or PGlite driver). */
export function sqlEntityManager(em: EntityManager): SqlEntityManager {
  if (typeof (em as unknown as Partial<SqlEntityManager>).execute !== 'function') {
    throw new ConfigurationError('em', 'cdk-lambda-tasks needs an SQL EntityManager (MikroORM with @mikro-orm/postgresql)');
  }
  return em as unknown as SqlEntityManager;
}

/**
 * Runs one statement with bound parameters through knex (`?` placeholders; pass a list as one array
 * parameter: `"id" = any(?::uuid[])`). Parameters go to the driver, not into the SQL text: `em.execute`
 * inlines them, and the PGlite dialect then mistakes a `;` inside a string value for a second statement.
 */
async function runRaw<T>(runner: Knex | Knex.Transaction, sql: string, params: readonly unknown[]): Promise<T[]> {
  const result = (await runner.raw(sql, params as Knex.RawBinding[])) as { rows?: T[] } | undefined;
  return result?.rows ?? [];
}

/** Runs one statement in the em's current transaction (if any) and returns its rows. */
export async function queryRows<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  const sqlEm = sqlEntityManager(em);
  const transaction = sqlEm.getTransactionContext<Knex.Transaction>();
  return runRaw<T>(transaction ?? sqlEm.getConnection().getKnex(), sql, params);
}

/** Runs one statement outside any transaction of the em (on its own pooled connection) and returns its rows. */
export async function queryRowsOutsideTransaction<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return runRaw<T>(sqlEntityManager(em).getConnection().getKnex(), sql, params);
}
