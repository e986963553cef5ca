import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import { jsonParam, type NewTaskRow, TaskRow } from './row';

/**
 * Inserts a RUNNING row for a message that came without a `task_id` (another producer),
 * keyed by its SQS message id; a redelivery finds the row taken and gets null.
 */
export async function insertClaimed(em: EntityManager, row: Pick<NewTaskRow, 'id' | 'taskName' | 'kwargs' | 'queue' | 'hardTimeout'>, messageId: string): Promise<TaskRow | null> {
  const rows = await queryRowsOutsideTransaction<TaskRow>(
    em,
    `insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "attempt", "root_id", "hard_timeout", "enqueued_at", "run_after", "dispatched_at", "start_time", "message_id")
     values (?, ?, ?::jsonb, ?, 'RUNNING', 1, ?, ?, now(), now(), now(), now(), ?)
     on conflict ("id") do nothing
     returning *`,
    [row.id, row.taskName, jsonParam(row.kwargs), row.queue, row.id, row.hardTimeout, messageId],
  );
  return rows[0] ?? null;
}
