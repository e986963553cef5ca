import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import type { TaskStatus } from '../record';

/** The fields of a row that DLQ reconciliation reads. */
export interface RowState {
  status: TaskStatus;
  task_name: string;
  queue: string;
  run_after: Date;
}

/** Status, queue and run_after of the given rows, by id (missing ids have no row). */
export async function findRows(em: EntityManager, ids: readonly string[]): Promise<Map<string, RowState>> {
  if (ids.length === 0) return new Map();
  const rows = await queryRowsOutsideTransaction<RowState & { id: string }>(
    em,
    'select "id", "status", "task_name", "queue", "run_after" from "task_record" where "id" = any(?::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}
