import type { EntityManager } from '@mikro-orm/core';
import type { Knex, EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import { cancelRunningStatement, isPgClient, settlesWithin } from './pg-client';
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

  async stopTransaction(_em: EntityManager, transaction: unknown): Promise<void> {
    const transactor = transaction as KnexTransactorLike | undefined;
    if (!transactor) return;
    // The transaction's own connection (a knex transaction's client hands it out without the pool).
    const connection = await Promise.resolve(transactor.client?.acquireConnection?.()).catch(() => undefined);
    // Nothing here waits for a pooled connection: the task may hold the pool's spare itself (a fork's
    // transaction), and a pg_cancel_backend sent over the pool would wait for it. A statement in flight is
    // cancelled with the protocol's CancelRequest on a new socket instead.
    if (isPgClient(connection)) await cancelRunningStatement(connection);
    // knex refuses the statements of the transaction's savepoints once its root has ended, so after the
    // rollback the connection carries nothing of the abandoned run and can go back to the pool.
    const rollback = Promise.resolve().then(() => transactor.rollback?.());
    if ((await settlesWithin(rollback, 2_000)) || !isPgClient(connection)) return;
    // Still not rolled back (a statement the cancel did not stop): close the connection. The server rolls the
    // transaction back when the session ends, the rollback fails at once and knex releases the connection, and
    // its pool discards it (knex marks a connection whose socket ended as disposed).
    void connection.end().catch(() => undefined);
    await settlesWithin(rollback, 2_000);
  },

  hasEntity(em: EntityManager, className: string): boolean {
    return em.getMetadata().find(className) !== undefined;
  },
};
