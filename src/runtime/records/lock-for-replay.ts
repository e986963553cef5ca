import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';
import type { TaskRow } from './row';

/** The advisory lock key of a task's history: every replay of one root takes turns on it. */
export const REPLAY_LOCK_PREFIX = 'cdk-lambda-tasks:replay:';

/**
 * In the em's current transaction: takes the transaction advisory lock of the root of row `id` (so two
 * replays of one task take turns; released at commit or rollback), then, in a second statement, reads the row
 * and the highest attempt of its root. Under READ COMMITTED the second statement sees a replay that committed
 * while this one waited; under REPEATABLE READ and SERIALIZABLE the transaction's snapshot may predate it, and
 * the unique `(root_id, attempt)` index refuses the insert instead. Null when there is no such row.
 */
export async function lockForReplay(em: EntityManager, id: string): Promise<{ row: TaskRow; lastAttempt: number } | null> {
  const [locked] = await queryRows<{ root_id: string }>(
    em,
    'select "root_id", pg_advisory_xact_lock(hashtextextended(? || "root_id"::text, 0)) from "task_record" where "id" = ?',
    [REPLAY_LOCK_PREFIX, id],
  );
  if (!locked) return null;
  const [row] = await queryRows<TaskRow & { last: number }>(
    em,
    'select t.*, (select max(r."attempt")::int from "task_record" r where r."root_id" = t."root_id") as "last" from "task_record" t where t."id" = ?',
    [id],
  );
  if (!row) return null;
  const { last, ...rest } = row;
  return { row: rest, lastAttempt: last };
}
