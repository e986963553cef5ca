import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/** Sets `dispatched_at` on rows in the em's current transaction (the relay holds their locks). */
export async function markDispatchedInTransaction(em: EntityManager, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await queryRows(em, 'update "task_record" set "dispatched_at" = now() where "id" = any(?::uuid[]) returning "id"', [ids]);
}
