import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/**
 * In the em's current transaction, if any (the built-in task's own), deletes at most `limit` terminal rows
 * (SUCCESS, FAILED, RETRYING, CANCELLED) that ended more than `olderThanDays` days ago; returns how many.
 * Index-backed on a table of millions of rows, both halves through the `start_time` index: a row that ran has
 * `start_time <= end_time`, so old ones are a range of it (oldest first); a row that never started (CANCELLED)
 * has a null `start_time`, which the index also holds (with the few QUEUED rows).
 */
export async function deleteOldTerminal(em: EntityManager, olderThanDays: number, limit: number): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    em,
    `delete from "task_record" where "id" = any(array(
       select "id" from (
         (select "id" from "task_record"
           where "start_time" < now() - make_interval(days => ?) and "status" in ('SUCCESS', 'FAILED', 'RETRYING', 'CANCELLED')
             and coalesce("end_time", "enqueued_at") < now() - make_interval(days => ?)
           order by "start_time" limit ?)
         union all
         (select "id" from "task_record"
           where "start_time" is null and "status" in ('SUCCESS', 'FAILED', 'RETRYING', 'CANCELLED')
             and coalesce("end_time", "enqueued_at") < now() - make_interval(days => ?)
           limit ?)
       ) as old limit ?
     )) returning "id"`,
    [olderThanDays, olderThanDays, limit, olderThanDays, limit, limit],
  );
  return rows.length;
}
