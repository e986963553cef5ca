import type { EntityManager, TransactionEventArgs } from '@mikro-orm/core';

/**
 * Everything cdk-lambda-tasks needs from the ORM beyond its public entity API. Each MikroORM major has
 * one implementation (MikroORM 6: knex, MikroORM 7: kysely), chosen at run time from the em; nothing else
 * in the runtime touches the query builder's or the driver's internals.
 *
 * Rolled-back savepoints need no hook here: of the rows written inside a savepoint (the em's transaction is
 * not its root), the outbox sends at the root commit only the ids that exist as committed QUEUED rows (one
 * `select` through {@link OrmSeam.query}), so rows inserted in a savepoint that was rolled back are never sent.
 */
export interface OrmSeam {
  /** The implementation's name, for error messages. */
  readonly name: string;
  /**
   * Runs one statement with `?` placeholders and bound parameters (sent to the driver, never spliced into
   * the SQL text) and returns its rows. `scope: 'current'` runs it in the em's current transaction, if
   * any; `'outside'` runs it on its own pooled connection, outside any transaction of the em.
   */
  query<T>(em: EntityManager, sql: string, params: readonly unknown[], scope: 'current' | 'outside'): Promise<T[]>;
  /**
   * Transaction start events, forwarded by the dispatch subscriber (`beforeTransactionStart` and
   * `afterTransactionStart`): MikroORM 7's savepoints do not know their root transaction, these events do.
   */
  transactionStarting?(args: TransactionEventArgs): void;
  transactionStarted?(args: TransactionEventArgs): void;
  /** The em's outermost transaction (what the commit hooks receive), or undefined outside a transaction. */
  rootTransaction(em: EntityManager): object | undefined;
  /** The em's current transaction handle, to stop it later with {@link OrmSeam.stopTransaction}. */
  currentTransaction(em: EntityManager): unknown;
  /**
   * Stops a transaction from outside (a hard timeout) without needing another pooled connection (the task may
   * hold the pool's spare itself): on PostgreSQL a statement in flight is cancelled with the protocol's
   * CancelRequest on a new socket. MikroORM 6 then rolls back (knex refuses the root's savepoints once it has
   * ended) and closes the connection if that does not finish; MikroORM 7 discards the connection (the server
   * rolls back as the session ends; the pool opens a new one), because its savepoints do not know that their
   * root has ended and would send their late statements into the next task's transaction. Never throws.
   */
  stopTransaction(em: EntityManager, transaction: unknown): Promise<void>;
  /**
   * After a transaction failed: discards pooled connections the server closed that the ORM still holds
   * checked out (MikroORM 7: kysely keeps them after a failed rollback). Optional: MikroORM 6 needs nothing.
   */
  releaseBrokenConnections?(em: EntityManager): Promise<void>;
  /** Whether the em's ORM has the entity of that class name in its metadata. */
  hasEntity(em: EntityManager, className: string): boolean;
}
