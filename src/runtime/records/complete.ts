import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import { storableText } from '../text';
import { jsonParam } from './row';

/**
 * Records SUCCESS for a RUNNING attempt, in the em's current transaction (the task's own,
 * so its writes and its outcome commit together). Returns false when the row is no longer
 * this attempt's RUNNING row (a sweep or a duplicate got there first): roll back then.
 */
export async function complete(
  em: EntityManager,
  id: string,
  attempt: number,
  outcome: { result: unknown; traceback?: string | null; note?: string | null },
): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(
    em,
    `update "task_record"
        set "status" = 'SUCCESS', "end_time" = clock_timestamp(), "result" = ?::jsonb, "traceback" = ?, "note" = ?
      where "id" = ? and "status" = 'RUNNING' and "attempt" = ?
      returning "id"`,
    [jsonParam(outcome.result), storableText(outcome.traceback), storableText(outcome.note), id, attempt],
  );
  return rows.length === 1;
}
