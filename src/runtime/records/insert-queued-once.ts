import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import { jsonParam, type NewTaskRow } from './row';

/**
 * Inserts a QUEUED row unless its idempotency key is taken, in the em's current transaction. Returns
 * `{ id, created, taskName }`: the new row, or the id and task name of the row that holds the key.
 */
export async function insertQueuedOnce(em: EntityManager, row: NewTaskRow): Promise<{ id: string; created: boolean; taskName: string }> {
  const inserted = await queryRows<{ id: string }>(
    em,
    `insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "attempt", "root_id", "idempotency_key", "hard_timeout", "enqueued_at", "run_after")
     values (?, ?, ?::jsonb, ?, 'QUEUED', ?, ?, ?, ?, now(), ?::timestamptz)
     on conflict ("idempotency_key") do nothing
     returning "id"`,
    [
      row.id, row.taskName, jsonParam(row.kwargs), row.queue, row.attempt,
      row.rootId, row.idempotencyKey, row.hardTimeout, row.runAfter.toISOString(),
    ],
  );
  if (inserted.length > 0) return { id: inserted[0].id, created: true, taskName: row.taskName };
  const existing = await queryRows<{ id: string; task_name: string }>(em, 'select "id", "task_name" from "task_record" where "idempotency_key" = ?', [row.idempotencyKey]);
  if (existing.length === 0) {
    // The conflicting row belongs to a transaction that rolled back between our insert and select; very rare.
    return insertQueuedOnce(em, row);
  }
  return { id: existing[0].id, created: false, taskName: existing[0].task_name };
}
