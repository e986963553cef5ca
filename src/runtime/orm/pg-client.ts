import { connect } from 'node:net';

/*
 * node-postgres (pg 8) and pg-pool 3, as far as a hard timeout needs them to free a connection without
 * another pooled one: both MikroORM majors run on pg (MikroORM 6 through knex's tarn pool, MikroORM 7 through
 * pg-pool). `processID`, `secretKey`, `activeQuery`, `host` and `port` are pg's Client fields (kysely reads
 * `processID` too); `_clients` and `_idle` are pg-pool's lists (also read by kysely.ts).
 */

/** A node-postgres client, as far as used here. */
export interface PgClient {
  processID?: number | null;
  secretKey?: number | null;
  activeQuery?: unknown;
  host?: string;
  port?: number;
  query: (...args: unknown[]) => unknown;
  /** Set by pg-pool on a checked-out client: with an error, the pool discards the client. */
  release?: (error?: Error) => void;
  end(): Promise<void>;
  once(event: 'end', listener: () => void): unknown;
}
/** pg-pool's lists of clients (all of them, and the idle ones). */
export interface PgPool {
  _clients?: PgClient[];
  _idle?: { client: PgClient }[];
}

/** Whether `value` is a connected node-postgres client (PGlite's connections are not). */
export function isPgClient(value: unknown): value is PgClient {
  const client = value as PgClient | undefined;
  return typeof client?.processID === 'number' && typeof client.secretKey === 'number' && typeof client.query === 'function';
}

/** Resolves to true once `promise` settles, or to false after `ms`. Never rejects. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true, () => true), new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref())]);
}

/** What a CancelRequest names: the server's session (pid and secret key) and where the server listens. */
interface CancelTarget {
  readonly processID: number;
  readonly secretKey: number;
  readonly host: string;
  readonly port: number;
}

/** The session to cancel when the client has a statement in flight, else undefined (read before the client closes). */
function runningStatementOf(client: PgClient): CancelTarget | undefined {
  if (!client.activeQuery || !isPgClient(client)) return undefined;
  return { processID: client.processID!, secretKey: client.secretKey!, host: client.host ?? 'localhost', port: client.port ?? 5432 };
}

/**
 * Sends the protocol's CancelRequest on a new socket: no pooled connection and no authentication are needed
 * (the pid and the secret key the server gave the client at connect are the proof), and it works after the
 * client's own socket has closed (the server still runs the statement). Bounded, never throws.
 */
async function sendCancelRequest(target: CancelTarget, withinMs: number): Promise<void> {
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(80877102, 4); // the CancelRequest code (1234 << 16 | 5678)
  message.writeInt32BE(target.processID, 8);
  message.writeInt32BE(target.secretKey, 12);
  await new Promise<void>((resolve) => {
    // A host starting with "/" is a Unix socket directory, as in pg.
    const socket = target.host.startsWith('/') ? connect(`${target.host}/.s.PGSQL.${target.port}`) : connect(target.port, target.host);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, withinMs);
    timer.unref();
    socket.once('connect', () => socket.end(message));
    socket.once('close', done); // the server closes the socket once it has read the request
    socket.once('error', done);
  });
}

/**
 * Cancels the statement a client runs, if it has one in flight (a cancel that arrives while the session is
 * idle is ignored by the server, but one that arrived late could hit its next statement). Never throws.
 */
export async function cancelRunningStatement(client: PgClient, withinMs = 2_000): Promise<void> {
  const target = runningStatementOf(client);
  if (target) await sendCancelRequest(target, withinMs);
}

/**
 * The pg-pool client that a driver connection (kysely's PostgresConnection, which keeps its client private)
 * runs its statements on: `send` must call the connection's statement method, which hands the statement to
 * its client synchronously. Every checked-out client's `query` is replaced for that moment by one that records
 * the client and throws, so nothing is sent. Undefined when no checked-out client was asked.
 */
export function findCheckedOutClient(pool: PgPool | undefined, send: () => Promise<unknown>): PgClient | undefined {
  const idle = new Set((pool?._idle ?? []).map((item) => item.client));
  const candidates = (pool?._clients ?? []).filter((client) => !idle.has(client));
  let found: PgClient | undefined;
  const probe = new Error('cdk-lambda-tasks: connection probe (never sent)');
  for (const client of candidates) {
    Object.defineProperty(client, 'query', {
      configurable: true,
      writable: true,
      value: () => {
        found = client;
        throw probe;
      },
    });
  }
  try {
    send().catch(() => undefined);
  } catch {
    // The probe's own error, thrown synchronously by a driver that does not wrap it in a promise.
  } finally {
    for (const client of candidates) delete (client as Partial<PgClient>).query;
  }
  return found;
}

/**
 * Closes a client's connection so that it is never handed to anyone again: at once (before anything else can
 * use or release it), a pooled client goes back to pg-pool with an error, which discards it and closes its
 * socket (the server rolls back the open transaction when the session ends; the pool opens a new connection
 * when needed); then a statement it had in flight is cancelled. Resolves once the socket is closed, or after
 * `withinMs`. Never throws.
 */
export async function discardClient(client: PgClient, withinMs = 2_000): Promise<void> {
  const running = runningStatementOf(client);
  const closed = new Promise<void>((resolve) => client.once('end', resolve));
  try {
    if (client.release) client.release(new Error('cdk-lambda-tasks: discarding the connection of a run stopped at its hard timeout'));
    else void client.end().catch(() => undefined);
  } catch {
    // Already released: close it all the same.
    void client.end().catch(() => undefined);
  }
  if (running) await sendCancelRequest(running, withinMs);
  await settlesWithin(closed, withinMs);
}
