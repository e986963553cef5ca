import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import type { TaskRow } from './row';

/**
 * In the em's current transaction: locks the row `id` (`for update`, so two replays of it take turns) and
 * returns it with the highest attempt of its root, read after the lock (a replay that committed meanwhile
 * counts). Null when there is no such row.
 */
export async function lockForReplay(em: EntityManager, id: string): Promise<{ row: TaskRow; lastAttempt: number } | null> {
  const [row] = await queryRows<TaskRow>(em, 'select * from "task_record" where "id" = ? for update', [id]);
  if (!row) return null;
  const [{ last }] = await queryRows<{ last: number }>(em, 'select max("attempt")::int as "last" from "task_record" where "root_id" = ?', [row.root_id]);
  return { row, lastAttempt: last };
}
