import type { EntityManager } from '@mikro-orm/core';
import type { Knex, EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import type { OrmSeam } from './seam';

/** The knex transactor fields a hard timeout uses (knex 3 internals, pinned by the MikroORM 6 peer range). */
interface KnexTransactorLike {
  parentTransaction?: object;
  client?: { acquireConnection?: () => Promise<unknown> };
  rollback?: () => Promise<unknown> | unknown;
}

function sql(em: EntityManager): SqlEntityManager {
  return em as unknown as SqlEntityManager;
}

/**
 * Runs one statement with bound parameters through knex. `em.execute` would inline them client-side,
 * and the PGlite dialect then mistakes a `;` inside a string value for a second statement.
 */
async function runRaw<T>(runner: Knex | Knex.Transaction, text: string, params: readonly unknown[]): Promise<T[]> {
  const result = (await runner.raw(text, params as Knex.RawBinding[])) as { rows?: T[] } | undefined;
  return result?.rows ?? [];
}

/** The ORM seam for MikroORM 6 (@mikro-orm/knex on knex 3). */
export const knexSeam: OrmSeam = {
  name: 'MikroORM 6 (knex)',

  async query<T>(em: EntityManager, text: string, params: readonly unknown[], scope: 'current' | 'outside'): Promise<T[]> {
    const sqlEm = sql(em);
    const transaction = scope === 'current' ? sqlEm.getTransactionContext<Knex.Transaction>() : undefined;
    return runRaw<T>(transaction ?? sqlEm.getConnection().getKnex(), text, params);
  },

  rootTransaction(em: EntityManager): object | undefined {
    // A savepoint's transactor points to its parent; the root is what afterTransactionCommit receives.
    let current = em.getTransactionContext() as KnexTransactorLike | undefined;
    while (current?.parentTransaction) current = current.parentTransaction as KnexTransactorLike;
    return current;
  },

  currentTransaction(em: EntityManager): unknown {
    return em.getTransactionContext();
  },

  async stopTransaction(em: EntityManager, transaction: unknown): Promise<void> {
    const transactor = transaction as KnexTransactorLike | undefined;
    if (!transactor) return;
    try {
      // node-postgres knows its backend pid: no round trip is needed to learn it.
      const connection = (await transactor.client?.acquireConnection?.()) as { processID?: unknown } | undefined;
      if (typeof connection?.processID === 'number') await this.query(em, 'select pg_cancel_backend(?)', [connection.processID], 'outside');
    } catch {
      // Best effort: the rollback below still ends the transaction once the statement returns.
    }
    try {
      await transactor.rollback?.();
    } catch {
      // Already finished or broken: nothing left to roll back.
    }
  },

  hasEntity(em: EntityManager, className: string): boolean {
    return em.getMetadata().find(className) !== undefined;
  },
};
