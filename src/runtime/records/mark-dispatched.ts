import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';

/** Sets `dispatched_at` on rows whose messages were sent, in one statement, outside any transaction. */
export async function markDispatched(em: EntityManager, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await queryRowsOutsideTransaction(em, 'update "task_record" set "dispatched_at" = now() where "id" = any(?::uuid[]) and "dispatched_at" is null', [ids]);
}
