import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import type { TaskRow } from './row';

/**
 * Claims a QUEUED row for this delivery (or for an in-process run, without message id): RUNNING, start time, message id, and
 * `dispatched_at` if the send was never recorded. Commits on its own. Returns the row,
 * or null when it is not QUEUED (a duplicate delivery, or no such row).
 */
export async function claim(em: EntityManager, id: string, messageId: string | null): Promise<TaskRow | null> {
  const rows = await queryRowsOutsideTransaction<TaskRow>(
    em,
    `update "task_record"
        set "status" = 'RUNNING', "start_time" = now(), "message_id" = ?, "dispatched_at" = coalesce("dispatched_at", now())
      where "id" = ? and "status" = 'QUEUED'
      returning *`,
    [messageId, id],
  );
  return rows[0] ?? null;
}
