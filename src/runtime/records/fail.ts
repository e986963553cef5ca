import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import { storableText } from '../text';

/**
 * Records FAILED for a RUNNING attempt, outside the task's (rolled back) transaction.
 * Returns false when the row is no longer this attempt's RUNNING row.
 */
export async function fail(em: EntityManager, id: string, attempt: number, failure: { traceback: string; note?: string | null }): Promise<boolean> {
  const rows = await queryRowsOutsideTransaction<{ id: string }>(
    em,
    `update "task_record"
        set "status" = 'FAILED', "end_time" = clock_timestamp(), "result" = null, "traceback" = ?, "note" = ?
      where "id" = ? and "status" = 'RUNNING' and "attempt" = ?
      returning "id"`,
    [storableText(failure.traceback), storableText(failure.note), id, attempt],
  );
  return rows.length === 1;
}
