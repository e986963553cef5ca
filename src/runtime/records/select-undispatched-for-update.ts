import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/** An undispatched QUEUED row as the relay needs it. */
export interface UndispatchedRow {
  id: string;
  task_name: string;
  kwargs: Record<string, unknown>;
  queue: string;
  run_after: Date;
  /** Whole seconds until `run_after` by the database's clock (rounded up), 0 when due. */
  delay_seconds: number;
}

/**
 * Locks QUEUED rows never sent (`dispatched_at is null`), older than the threshold and due within SQS's
 * largest delay (`dueWithinSeconds`: a row due later waits), oldest first, skipping rows another relay holds
 * (`for update skip locked`), with the delay left by the database's clock, the one that selected them (the app's
 * may be skewed). Run it in a transaction.
 */
export async function selectUndispatchedForUpdate(em: EntityManager, olderThanSeconds: number, dueWithinSeconds: number, limit: number): Promise<UndispatchedRow[]> {
  return queryRows<UndispatchedRow>(
    em,
    `select "id", "task_name", "kwargs", "queue", "run_after",
            greatest(0, ceil(extract(epoch from ("run_after" - now()))))::int as "delay_seconds" from "task_record"
      where "status" = 'QUEUED' and "dispatched_at" is null and "enqueued_at" < now() - make_interval(secs => ?)
        and "run_after" <= now() + make_interval(secs => ?)
      order by "enqueued_at" limit ? for update skip locked`,
    [olderThanSeconds, dueWithinSeconds, limit],
  );
}
