import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/** Takes a transaction-level advisory lock on a text key without waiting; released at commit or rollback. */
export async function tryAdvisoryLock(em: EntityManager, key: string): Promise<boolean> {
  const [row] = await queryRows<{ locked: boolean }>(em, 'select pg_try_advisory_xact_lock(hashtextextended(?, 0)) as "locked"', [key]);
  return row?.locked === true;
}
