import type { EntityManager } from '@mikro-orm/core';
import { queryRows } from '../orm';

/** An undispatched QUEUED row as the relay needs it. */
export interface UndispatchedRow {
  id: string;
  task_name: string;
  kwargs: Record<string, unknown>;
  queue: string;
  run_after: Date;
}

/**
 * Locks QUEUED rows never sent (`dispatched_at is null`), older than the threshold and due within SQS's
 * largest delay (`dueWithinSeconds`: a row due later waits), oldest first, skipping rows another relay holds
 * (`for update skip locked`). Run it in a transaction.
 */
export async function selectUndispatchedForUpdate(em: EntityManager, olderThanSeconds: number, dueWithinSeconds: number, limit: number): Promise<UndispatchedRow[]> {
  return queryRows<UndispatchedRow>(
    em,
    `select "id", "task_name", "kwargs", "queue", "run_after" from "task_record"
      where "status" = 'QUEUED' and "dispatched_at" is null and "enqueued_at" < now() - make_interval(secs => ?)
        and "run_after" <= now() + make_interval(secs => ?)
      order by "enqueued_at" limit ? for update skip locked`,
    [olderThanSeconds, dueWithinSeconds, limit],
  );
}
