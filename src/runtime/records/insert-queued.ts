import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import { jsonParam, type NewTaskRow } from './row';

/** Inserts a QUEUED row in the em's current transaction (a retry's next attempt). */
export async function insertQueued(em: EntityManager, row: NewTaskRow): Promise<void> {
  await queryRows(
    em,
    `insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "attempt", "root_id", "hard_timeout", "enqueued_at", "run_after")
     values (?, ?, ?::jsonb, ?, 'QUEUED', ?, ?, ?, now(), ?::timestamptz) returning "id"`,
    [row.id, row.taskName, jsonParam(row.kwargs), row.queue, row.attempt, row.rootId, row.hardTimeout, row.runAfter.toISOString()],
  );
}
