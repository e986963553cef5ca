import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import { storableText } from '../text';

/** Records RETRYING for a RUNNING attempt, in the em's current transaction; false when the row is no longer this attempt's RUNNING row. */
export async function markRetrying(em: EntityManager, id: string, attempt: number, failure: { traceback: string | null; note: string }): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(
    em,
    `update "task_record"
        set "status" = 'RETRYING', "end_time" = clock_timestamp(), "result" = null, "traceback" = ?, "note" = ?
      where "id" = ? and "status" = 'RUNNING' and "attempt" = ?
      returning "id"`,
    [storableText(failure.traceback), storableText(failure.note), id, attempt],
  );
  return rows.length === 1;
}
