import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import type { TaskStatus } from '../record';
import { SQLSTATE, sqlErrorOf } from './sql-error';

/**
 * Why a row could not be cancelled: its status and its root's latest attempt; `status: null` when there is no
 * such row; `stale` when the row changed after the transaction's REPEATABLE READ or SERIALIZABLE snapshot (a
 * worker claimed it, or another operator cancelled it): PostgreSQL then aborts the transaction.
 */
export type NotCancelled = { status: null } | { stale: true } | { status: TaskStatus; latest: { id: string; attempt: number; status: TaskStatus } };

/** The note a row cancelled before it ran carries. */
export const CANCELLED_NOTE = 'cancelled before it ran';

/** The QUEUED row itself, or the latest attempt of its root (through the `(root_id, attempt)` index). */
const CANCEL_QUEUED_SQL = `update "task_record" t
        set "status" = 'CANCELLED', "end_time" = now(), "note" = ?
      where t."status" = 'QUEUED'
        and (t."id" = ?
          or (t."root_id", t."attempt") = (select l."root_id", l."attempt" from "task_record" g join "task_record" l on l."root_id" = g."root_id"
                                            where g."id" = ? order by l."attempt" desc limit 1))
      returning t."id"`;

/**
 * In the em's current transaction: CANCELLED for the QUEUED row `id`, or, when a later attempt of its root
 * exists (a retry a worker scheduled, or a `retryTask` replay; at any depth), for the root's latest attempt
 * if that is QUEUED. Returns the cancelled row's id, else why nothing was cancelled.
 */
export async function cancelQueued(em: EntityManager, id: string): Promise<{ cancelled: string } | NotCancelled> {
  const rows = await queryRows<{ id: string }>(em, CANCEL_QUEUED_SQL, [CANCELLED_NOTE, id, id]).catch((error: unknown) => {
    if (sqlErrorOf(error).code === SQLSTATE.serializationFailure) return null;
    throw error;
  });
  if (rows === null) return { stale: true };
  if (rows[0]) return { cancelled: rows[0].id };
  const [found] = await queryRows<{ status: TaskStatus; latest_id: string; latest_attempt: number; latest_status: TaskStatus }>(
    em,
    `select g."status", l."id" as "latest_id", l."attempt" as "latest_attempt", l."status" as "latest_status"
       from "task_record" g
       join lateral (select "id", "attempt", "status" from "task_record" r where r."root_id" = g."root_id" order by r."attempt" desc limit 1) l on true
      where g."id" = ?`,
    [id],
  );
  if (!found) return { status: null };
  return { status: found.status, latest: { id: found.latest_id, attempt: found.latest_attempt, status: found.latest_status } };
}

/**
 * In the em's current transaction: CANCELLED for rows just inserted QUEUED (cancelled by `cancelTask` before
 * the flush that wrote them), in one statement.
 */
export async function cancelInserted(em: EntityManager, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await queryRows(em, 'update "task_record" set "status" = \'CANCELLED\', "end_time" = now(), "note" = ? where "id" = any(?::uuid[]) and "status" = \'QUEUED\'', [CANCELLED_NOTE, ids]);
}
