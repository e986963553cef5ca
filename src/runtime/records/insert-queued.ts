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

/** The SQLSTATE and constraint of a driver error, also when the ORM wrapped it (MikroORM copies them, and keeps the original as `cause`). */
function sqlErrorOf(error: unknown): { code?: unknown; constraint?: unknown } {
  for (let e = error as { code?: unknown; constraint?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth += 1) {
    if (typeof e === 'object' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e;
  }
  return {};
}

/**
 * Inserts the next attempt of a task (a `retryTask` replay) in the em's current transaction. Returns false when
 * another transaction wrote that attempt first: the unique `(root_id, attempt)` index refused the row (23505),
 * or, under SERIALIZABLE, PostgreSQL reported the same conflict as a serialization failure (40001). The
 * transaction is then aborted (PostgreSQL refuses its further statements until it rolls back). Other errors go on.
 */
export async function insertNextAttempt(em: EntityManager, row: NewTaskRow, uniqueIndex: string): Promise<boolean> {
  try {
    await insertQueued(em, row);
    return true;
  } catch (error) {
    const { code, constraint } = sqlErrorOf(error);
    if ((code === '23505' && (constraint === uniqueIndex || constraint === undefined)) || code === '40001') return false;
    throw error;
  }
}
