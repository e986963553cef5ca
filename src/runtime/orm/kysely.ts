import type { EntityManager, TransactionEventArgs } from '@mikro-orm/core';
import { discardClient, findCheckedOutClient, settlesWithin, type PgPool } from './pg-client';
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
  executeQuery(query: object): Promise<unknown>;
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
/** node-postgres's clients, as far as {@link kyselySeam.releaseBrokenConnections} reads them (pg 8 internals). */
interface PgClientState {
  _ended?: boolean;
  _queryable?: boolean;
  release?: (error?: Error) => void;
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
/** Root transaction → the savepoints opened in it, to silence them when the root is stopped. */
const savepointsOfRoot = new WeakMap<KyselyTransaction, Set<KyselyTransaction>>();

/** The ORM's pg-pool (MikroORM 7 on PostgreSQL), or whatever else its driver holds (PGlite: no pool lists). */
async function nativePool(em: EntityManager): Promise<PgPool | undefined> {
  return (await kyselyEm(em).getConnection().getNativeClient?.()) as PgPool | undefined;
}

/**
 * A savepoint of a stopped run refuses every later statement. kysely gives each savepoint its own state, so it
 * does not know that its root has ended: its `rollback to savepoint` or `release savepoint`, sent when the
 * abandoned run wakes up, would reach whichever transaction then holds the connection (on PGlite, the one
 * connection there is). The methods MikroORM 7 calls on a transaction are shadowed on the instance.
 */
function refuseStatements(savepoint: KyselyTransaction): void {
  const refuse = () => {
    throw new Error('cdk-lambda-tasks: this transaction was stopped at its hard timeout; its savepoint can run nothing');
  };
  for (const method of ['executeQuery', 'getExecutor', 'savepoint', 'rollbackToSavepoint', 'releaseSavepoint', 'commit', 'rollback']) {
    Object.defineProperty(savepoint, method, { configurable: true, writable: true, value: refuse });
  }
}

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
    if (!parent || !transaction?.savepointName) return;
    const root = rootOfSavepoint.get(parent) ?? parent;
    rootOfSavepoint.set(transaction, root);
    const savepoints = savepointsOfRoot.get(root) ?? new Set<KyselyTransaction>();
    savepointsOfRoot.set(root, savepoints.add(transaction));
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
    for (const savepoint of savepointsOfRoot.get(handle.root) ?? []) refuseStatements(savepoint);
    // The pg client under the transaction's connection (looked up before the abort below, which makes kysely
    // leave the cancel of a statement in flight to discardClient: the lookup clears the query id it compares).
    const connection = await handle.connection.catch(() => undefined);
    const pool = await nativePool(em).catch(() => undefined);
    if (handle.root.isCommitted || handle.root.isRolledBack) return; // it ended meanwhile: its connection is someone else's now
    const client = connection && findCheckedOutClient(pool, () => connection.executeQuery(compiledQuery('select 1', [])));
    // The em's later queries now fail at once.
    handle.abort.abort(new Error('the transaction was stopped at its hard timeout'));
    if (client) {
      // PostgreSQL: the connection is never handed on. Its statement in flight is cancelled (CancelRequest on a
      // new socket: the pool may be exhausted, by the task itself too), its session closed (the server rolls
      // the transaction back) and the pool discards it, so that nothing the abandoned run sends later, through
      // any executor it still holds, can reach another task's transaction.
      await discardClient(client);
      return;
    }
    // PGlite (one connection, nothing to discard): roll back while holding the transaction's connection, so that
    // no statement of the task runs between the rollback and the connection's return.
    const rollback = handle.root.getExecutor().provideConnection(() => handle.root.rollback().execute());
    if (await settlesWithin(rollback, 1_000)) return;
    try {
      // A statement sent without the signal (the task's own kysely query) still runs: cancel it.
      await connection?.collectSessionInfo?.();
      const pooled = kyselyEm(em).getConnection().getClient();
      await connection?.cancelQuery?.((consumer) => pooled.getExecutor().provideConnection(consumer));
    } catch {
      // Best effort: the rollback still runs once the statement returns.
    }
    await settlesWithin(rollback, 10_000);
  },

  async releaseBrokenConnections(em: EntityManager): Promise<void> {
    // kysely 0.29's ControlledTransaction releases its connection only after a successful ROLLBACK: when the
    // server closed the connection, the rollback fails and the pg client stays checked out for ever (the pool
    // shrinks by one per dropped connection until the worker deadlocks). A checked-out client whose socket
    // has ended can serve nobody: give it back to the pool with an error, which discards it.
    const pool = await nativePool(em);
    const idle = new Set<unknown>((pool?._idle ?? []).map((item) => item.client));
    for (const client of (pool?._clients ?? []) as PgClientState[]) {
      if (idle.has(client) || !(client._ended || client._queryable === false) || typeof client.release !== 'function') continue;
      client.release(new Error('cdk-lambda-tasks: discarding a connection the server closed'));
    }
  },

  hasEntity(em: EntityManager, className: string): boolean {
    // MikroORM 7's types take an EntityName; a class name still resolves (the metadata's class-name map).
    return em.getMetadata().find(className as never) !== undefined;
  },
};
