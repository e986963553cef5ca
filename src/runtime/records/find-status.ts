import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import type { TaskStatus } from '../record';

/** The status of a row, or null when there is no such row. */
export async function findStatus(em: EntityManager, id: string): Promise<TaskStatus | null> {
  const rows = await queryRowsOutsideTransaction<{ status: TaskStatus }>(em, 'select "status" from "task_record" where "id" = ?', [id]);
  return rows[0]?.status ?? null;
}
