import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/** The id and task name of the row that holds an idempotency key, in the em's current transaction; null when none does. */
export async function findByIdempotencyKey(em: EntityManager, key: string): Promise<{ id: string; taskName: string } | null> {
  const rows = await queryRows<{ id: string; task_name: string }>(em, 'select "id", "task_name" from "task_record" where "idempotency_key" = ?', [key]);
  return rows[0] ? { id: rows[0].id, taskName: rows[0].task_name } : null;
}
