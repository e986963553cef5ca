import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';

/** Of the given ids, those that exist as committed QUEUED rows (rows of a rolled-back savepoint never do). */
export async function selectQueuedIds(em: EntityManager, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await queryRowsOutsideTransaction<{ id: string }>(
    em,
    'select "id" from "task_record" where "id" = any(?::uuid[]) and "status" = \'QUEUED\'',
    [ids],
  );
  return new Set(rows.map((r) => r.id));
}
