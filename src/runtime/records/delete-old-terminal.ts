import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/** In the em's current transaction, if any (the built-in task's own), deletes at most `limit` terminal rows (SUCCESS, FAILED, RETRYING) that ended more than `olderThanDays` days ago; returns how many. */
export async function deleteOldTerminal(em: EntityManager, olderThanDays: number, limit: number): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    em,
    `delete from "task_record" where "id" in (
       select "id" from "task_record"
        where "status" in ('SUCCESS', 'FAILED', 'RETRYING') and coalesce("end_time", "enqueued_at") < now() - make_interval(days => ?)
        order by coalesce("end_time", "enqueued_at") limit ?
     ) returning "id"`,
    [olderThanDays, limit],
  );
  return rows.length;
}
