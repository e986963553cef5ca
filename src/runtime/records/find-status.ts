import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import type { TaskStatus } from '../record';

/** The status and task name of a row, or null when there is no such row. */
export async function findStatus(em: EntityManager, id: string): Promise<{ status: TaskStatus; taskName: string } | null> {
  const rows = await queryRowsOutsideTransaction<{ status: TaskStatus; task_name: string }>(em, 'select "status", "task_name" from "task_record" where "id" = ?', [id]);
  return rows[0] ? { status: rows[0].status, taskName: rows[0].task_name } : null;
}
