import type { EntityManager, TransactionEventArgs } from '@mikro-orm/core';
import type { OrmSeam } from './seam';

/*
 * MikroORM 7 runs its SQL through kysely 0.29. This file is compiled against MikroORM 6's types (the
 * development dependency), so it describes the few kysely and MikroORM 7 shapes it uses as interfaces: all
 * of them are public kysely API (ControlledTransaction, Kysely, DatabaseConnection) or MikroORM 7's SQL
 * EntityManager.
 */

/** kysely's per-query abort options (`executeQuery(query, options)`). */
interface AbortOptions {
  signal?: AbortSignal;
  inflightQueryAbortStrategy?: 'ignore query' | 'cancel query' | 'kill session';
}
/** A kysely executor: the pooled `Kysely` instance or a transaction. */
interface QueryRunner {
  executeQuery(query: object, options?: AbortOptions): Promise<{ rows: unknown[] }>;
  getExecutor(): { provideConnection<T>(consumer: (connection: KyselyConnection) => Promise<T>): Promise<T> };
}
/** kysely's `ControlledTransaction` (a savepoint is a separate one, with a name and no link to its parent). */
interface KyselyTransaction extends QueryRunner {
  savepointName?: string;
  isCommitted: boolean;
  isRolledBack: boolean;
  rollback(): { execute(): Promise<void> };
}
/** kysely's PostgreSQL connection: it knows its backend pid and can cancel the statement it runs. */
interface KyselyConnection {
  collectSessionInfo?(): Promise<void>;
  cancelQuery?(control: (consumer: (connection: KyselyConnection) => Promise<void>) => Promise<void>): Promise<void>;
}
/** MikroORM 7's SQL EntityManager as far as used here (`signal` and `inflightQueryAbortStrategy` are its abort fields). */
interface KyselyEntityManager {
  signal?: AbortSignal;
  inflightQueryAbortStrategy?: AbortOptions['inflightQueryAbortStrategy'];
  getTransactionContext(): KyselyTransaction | undefined;
  getConnection(): { getClient(): QueryRunner; getNativeClient?(): Promise<unknown> };
  getContext(validate: boolean): KyselyEntityManager;
}
/** node-postgres's pool and clients, as far as {@link kyselySeam.releaseBrokenConnections} reads them (pg-pool 3 internals). */
interface PgClientState {
  _ended?: boolean;
  _queryable?: boolean;
  release?: (error?: Error) => void;
}
interface PgPoolState {
  _clients?: PgClientState[];
  _idle?: { client: PgClientState }[];
}
/** What {@link kyselySeam.currentTransaction} hands to {@link kyselySeam.stopTransaction}. */
interface StopHandle {
  root: KyselyTransaction;
  connection: Promise<KyselyConnection>;
  abort: AbortController;
}

/** The em's context (a fork inside `transactional` holds the transaction; the global em delegates to it). */
function kyselyEm(em: EntityManager): KyselyEntityManager {
  return (em as unknown as KyselyEntityManager).getContext(false);
}

let queryIds = 0;

/**
 * kysely's `CompiledQuery.raw(sql, params)` without importing kysely (the app's copy is the one MikroORM
 * uses): each `?` outside a quoted literal or identifier becomes `$n`, and the values are bound by the driver.
 */
function compiledQuery(text: string, params: readonly unknown[]): object {
  let index = 0;
  const sql = text.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (match) => (match === '?' ? `$${++index}` : match));
  // The queryId lets kysely's PostgreSQL connection cancel this statement (it cancels only the one it runs).
  return { sql, parameters: [...params], query: { kind: 'RawNode', sqlFragments: [sql], parameters: [] }, queryId: { queryId: `lambda-tasks-${++queryIds}` } };
}

/**
 * Savepoint → root transaction. A kysely savepoint does not know its parent; the transaction start events
 * do: `beforeTransactionStart` gets the parent and the new fork, `afterTransactionStart` the savepoint.
 */
const rootOfSavepoint = new WeakMap<object, KyselyTransaction>();
const parentOfStarting = new WeakMap<object, KyselyTransaction>();

function rootOf(transaction: KyselyTransaction | undefined): KyselyTransaction | undefined {
  if (!transaction?.savepointName) return transaction;
  const root = rootOfSavepoint.get(transaction);
  if (!root) throw new Error('cdk-lambda-tasks: a MikroORM 7 savepoint whose root transaction is unknown: register the config through withLambdaTasks()');
  return root;
}

/** The ORM seam for MikroORM 7 (@mikro-orm/sql on kysely 0.29 and node-postgres). */
export const kyselySeam: OrmSeam = {
  name: 'MikroORM 7 (kysely)',

  async query<T>(em: EntityManager, text: string, params: readonly unknown[], scope: 'current' | 'outside'): Promise<T[]> {
    const sqlEm = kyselyEm(em);
    const transaction = scope === 'current' ? sqlEm.getTransactionContext() : undefined;
    // In the current transaction, honour the em's abort signal (set by currentTransaction) like the ORM's own queries.
    const abort = transaction && sqlEm.signal ? { signal: sqlEm.signal, inflightQueryAbortStrategy: sqlEm.inflightQueryAbortStrategy } : undefined;
    const result = await (transaction ?? sqlEm.getConnection().getClient()).executeQuery(compiledQuery(text, params), abort);
    return result.rows as T[];
  },

  transactionStarting(args: TransactionEventArgs): void {
    if (args.transaction) parentOfStarting.set(args.em, args.transaction as KyselyTransaction);
  },

  transactionStarted(args: TransactionEventArgs): void {
    const parent = parentOfStarting.get(args.em);
    parentOfStarting.delete(args.em);
    const transaction = args.transaction as KyselyTransaction | undefined;
    if (parent && transaction?.savepointName) rootOfSavepoint.set(transaction, rootOfSavepoint.get(parent) ?? parent);
  },

  rootTransaction(em: EntityManager): object | undefined {
    return rootOf(kyselyEm(em).getTransactionContext());
  },

  currentTransaction(em: EntityManager): unknown {
    const sqlEm = kyselyEm(em);
    const root = rootOf(sqlEm.getTransactionContext());
    if (!root) return undefined;
    // After stopTransaction aborts this signal, every later query of this em (and its forks) fails at once.
    const abort = new AbortController();
    sqlEm.signal = abort.signal;
    // 'cancel query' needs a connection that can cancel (PostgreSQL's; PGlite's cannot, and kysely then refuses
    // every query): until the connection is known, a running statement is left to stopTransaction's own cancel.
    sqlEm.inflightQueryAbortStrategy = 'ignore query';
    // Asked before the task's first query, so it resolves at once: the connection, to cancel its statement later.
    const connection = root.getExecutor().provideConnection(async (c) => c);
    connection.then((c) => {
      if (typeof c.cancelQuery === 'function') sqlEm.inflightQueryAbortStrategy = 'cancel query';
    }, () => undefined);
    const handle: StopHandle = { root, connection, abort };
    return handle;
  },

  async stopTransaction(em: EntityManager, transaction: unknown): Promise<void> {
    const handle = transaction as StopHandle | undefined;
    if (!handle || handle.root.isCommitted || handle.root.isRolledBack) return;
    // The em's later queries now fail at once; kysely cancels a running statement that carries the signal.
    handle.abort.abort(new Error('the transaction was stopped at its hard timeout'));
    // Roll back while holding the transaction's connection, so that no statement of the task runs between
    // the rollback and the connection's return to the pool.
    const rollback = handle.root.getExecutor().provideConnection(() => handle.root.rollback().execute()).then(() => true, () => true);
    const settledWithin = (ms: number) => Promise.race([rollback, new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref())]);
    if (await settledWithin(1_000)) return;
    try {
      // A statement sent without the signal (the task's own kysely query) still runs: cancel it over a new
      // connection (the pool may be exhausted), with the pid node-postgres already knows.
      const connection = await handle.connection;
      await connection.collectSessionInfo?.();
      const client = kyselyEm(em).getConnection().getClient();
      await connection.cancelQuery?.((consumer) => client.getExecutor().provideConnection(consumer));
    } catch {
      // Best effort: the rollback still runs once the statement returns.
    }
    await settledWithin(10_000);
  },

  async releaseBrokenConnections(em: EntityManager): Promise<void> {
    // kysely 0.29's ControlledTransaction releases its connection only after a successful ROLLBACK: when the
    // server closed the connection, the rollback fails and the pg client stays checked out for ever (the pool
    // shrinks by one per dropped connection until the worker deadlocks). A checked-out client whose socket
    // has ended can serve nobody: give it back to the pool with an error, which discards it.
    const pool = (await kyselyEm(em).getConnection().getNativeClient?.()) as PgPoolState | undefined;
    const idle = new Set((pool?._idle ?? []).map((item) => item.client));
    for (const client of pool?._clients ?? []) {
      if (idle.has(client) || !(client._ended || client._queryable === false) || typeof client.release !== 'function') continue;
      client.release(new Error('cdk-lambda-tasks: discarding a connection the server closed'));
    }
  },

  hasEntity(em: EntityManager, className: string): boolean {
    // MikroORM 7's types take an EntityName; a class name still resolves (the metadata's class-name map).
    return em.getMetadata().find(className as never) !== undefined;
  },
};
