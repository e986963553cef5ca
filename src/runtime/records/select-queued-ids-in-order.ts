import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';

/** Ids and names of QUEUED rows, oldest first (optionally only of some task names). */
export async function selectQueuedIdsInOrder(em: EntityManager, taskNames?: readonly string[]): Promise<{ id: string; task_name: string }[]> {
  if (taskNames && taskNames.length === 0) return [];
  const filter = taskNames ? ' and "task_name" = any(?::text[])' : '';
  return queryRowsOutsideTransaction(
    em,
    `select "id", "task_name" from "task_record" where "status" = 'QUEUED'${filter} order by "enqueued_at", "id"`,
    taskNames ? [taskNames] : [],
  );
}
