import type { MikroORM } from '@mikro-orm/core';

type ClientClass = { prototype: { query: (...args: unknown[]) => unknown } };

/**
 * The `pg` Client class the ORM's pool really uses. MikroORM 7 loads `pg` as an ES module, outside jest's
 * module registry, so the test's own `require('pg')` is another copy: take the class from its pool instead.
 */
async function clientClassOf(orm: MikroORM): Promise<ClientClass> {
  const connection = orm.em.getConnection() as { getNativeClient?(): Promise<unknown> | unknown };
  const native = (await connection.getNativeClient?.()) as { Client?: ClientClass } | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return typeof native?.Client === 'function' ? native.Client : (require('pg') as { Client: ClientClass }).Client;
}

/** The statements the ORM's `pg` clients send while `fn` runs, as their SQL text (one round trip each). */
export async function recordStatements(orm: MikroORM, fn: () => Promise<unknown>): Promise<string[]> {
  const Client = await clientClassOf(orm);
  const original = Client.prototype.query;
  const seen: string[] = [];
  Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const [config] = args;
    seen.push(typeof config === 'string' ? config : String((config as { text?: unknown } | undefined)?.text ?? ''));
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    Client.prototype.query = original;
  }
  return seen;
}

/** Counts the statements the ORM's `pg` clients send while `fn` runs (one round trip each). */
export async function countStatements(orm: MikroORM, fn: () => Promise<unknown>): Promise<number> {
  return (await recordStatements(orm, fn)).length;
}
