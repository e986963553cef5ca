import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import type { TaskStatus } from '../record';

/**
 * In the em's current transaction: CANCELLED for the QUEUED row `id`, or, when `id` is a RETRYING attempt,
 * for its next attempt if that is still QUEUED. Returns the cancelled row's id, else the status of `id`
 * (null: no such row).
 */
export async function cancelQueued(em: EntityManager, id: string): Promise<{ cancelled: string } | { status: TaskStatus | null }> {
  const rows = await queryRows<{ id: string }>(
    em,
    `update "task_record" t
        set "status" = 'CANCELLED', "end_time" = now(), "note" = 'cancelled before it ran'
      where t."status" = 'QUEUED'
        and (t."id" = ?
          or (t."root_id", t."attempt") = (select r."root_id", r."attempt" + 1 from "task_record" r where r."id" = ? and r."status" = 'RETRYING'))
      returning t."id"`,
    [id, id],
  );
  if (rows[0]) return { cancelled: rows[0].id };
  const found = await queryRows<{ status: TaskStatus }>(em, 'select "status" from "task_record" where "id" = ?', [id]);
  return { status: found[0]?.status ?? null };
}
