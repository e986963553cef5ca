import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import type { TaskRow } from './row';

/**
 * Claims a QUEUED row of the named task for this delivery (or for an in-process run, without message id):
 * RUNNING, start time, message id, and `dispatched_at` if the send was never recorded. Commits on its own.
 * Returns the row, or null when no QUEUED row of that id *and task name* exists (a duplicate delivery, no
 * such row, or a message that names another task than the row: the row is the truth).
 */
export async function claim(em: EntityManager, id: string, taskName: string, messageId: string | null): Promise<TaskRow | null> {
  const rows = await queryRowsOutsideTransaction<TaskRow>(
    em,
    `update "task_record"
        set "status" = 'RUNNING', "start_time" = now(), "message_id" = ?, "dispatched_at" = coalesce("dispatched_at", now())
      where "id" = ? and "status" = 'QUEUED' and "task_name" = ?
      returning *`,
    [messageId, id, taskName],
  );
  return rows[0] ?? null;
}
