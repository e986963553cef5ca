import type { EntityManager } from '@mikro-orm/core';
import { queryRows, queryRowsOutsideTransaction } from '../orm';
import { storableText } from '../text';

/**
 * Ends a RUNNING attempt without a result: FAILED, or RETRYING (a later attempt was enqueued). Returns false
 * when the row is no longer this attempt's RUNNING row. `scope: 'outside'` writes on its own connection
 * (after the task's transaction rolled back); `'current'` in the em's transaction (with the next attempt).
 */
async function endAttempt(
  em: EntityManager,
  status: 'FAILED' | 'RETRYING',
  id: string,
  attempt: number,
  failure: { traceback: string | null; note?: string | null },
  scope: 'current' | 'outside',
): Promise<boolean> {
  const query = scope === 'current' ? queryRows : queryRowsOutsideTransaction;
  const rows = await query<{ id: string }>(
    em,
    `update "task_record"
        set "status" = ?, "end_time" = clock_timestamp(), "result" = null, "traceback" = ?, "note" = ?
      where "id" = ? and "status" = 'RUNNING' and "attempt" = ?
      returning "id"`,
    [status, storableText(failure.traceback), storableText(failure.note), id, attempt],
  );
  return rows.length === 1;
}

/** Records FAILED for a RUNNING attempt, outside the task's (rolled back) transaction. */
export function fail(em: EntityManager, id: string, attempt: number, failure: { traceback: string; note?: string | null }): Promise<boolean> {
  return endAttempt(em, 'FAILED', id, attempt, failure, 'outside');
}

/** Records RETRYING for a RUNNING attempt, in the em's current transaction (the one that inserts the next attempt). */
export function markRetrying(em: EntityManager, id: string, attempt: number, failure: { traceback: string | null; note: string }): Promise<boolean> {
  return endAttempt(em, 'RETRYING', id, attempt, failure, 'current');
}
