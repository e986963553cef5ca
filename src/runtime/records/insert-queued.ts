import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import { jsonParam, type NewTaskRow } from './row';
import { SQLSTATE, sqlErrorOf } from './sql-error';

/** Inserts a QUEUED row in the em's current transaction (a retry's next attempt). */
export async function insertQueued(em: EntityManager, row: NewTaskRow): Promise<void> {
  await queryRows(
    em,
    `insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "attempt", "root_id", "hard_timeout", "enqueued_at", "run_after")
     values (?, ?, ?::jsonb, ?, 'QUEUED', ?, ?, ?, now(), ?::timestamptz) returning "id"`,
    [row.id, row.taskName, jsonParam(row.kwargs), row.queue, row.attempt, row.rootId, row.hardTimeout, row.runAfter.toISOString()],
  );
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
    if ((code === SQLSTATE.uniqueViolation && (constraint === uniqueIndex || constraint === undefined)) || code === SQLSTATE.serializationFailure) return false;
    throw error;
  }
}
