import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import type { NewTaskRow } from './row';

/**
 * Inserts QUEUED rows in the em's current transaction with one statement, whatever their number (the
 * rows travel as one jsonb parameter): what `executeOnCommit` inside a transaction writes at the next flush.
 */
export async function insertQueuedRows(em: EntityManager, rows: readonly (NewTaskRow & { readonly enqueuedAt: Date })[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.map((r) => ({
    id: r.id,
    task_name: r.taskName,
    kwargs: r.kwargs,
    queue: r.queue,
    attempt: r.attempt,
    root_id: r.rootId,
    hard_timeout: r.hardTimeout,
    enqueued_at: r.enqueuedAt.toISOString(),
    run_after: r.runAfter.toISOString(),
  }));
  await queryRows(
    em,
    `insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "attempt", "root_id", "hard_timeout", "enqueued_at", "run_after")
     select r."id", r."task_name", r."kwargs", r."queue", 'QUEUED', r."attempt", r."root_id", r."hard_timeout", r."enqueued_at", r."run_after"
       from jsonb_to_recordset(?::jsonb) as r("id" uuid, "task_name" text, "kwargs" jsonb, "queue" text, "attempt" int, "root_id" uuid,
                                              "hard_timeout" int, "enqueued_at" timestamptz, "run_after" timestamptz)`,
    [JSON.stringify(values)],
  );
}
