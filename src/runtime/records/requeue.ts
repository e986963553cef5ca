import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import { storableText } from '../text';

/**
 * Puts a RUNNING attempt back to QUEUED to run after `runAfter` — the same row and attempt (a claim that did
 * not run: no time left in this invocation, or a singleton's lock was taken). `messageInFlight` says the
 * caller sends its message itself (`dispatched_at` = now); otherwise `dispatched_at` is null, for the outbox
 * or the relay. Returns false when the row is no longer this attempt's RUNNING row.
 */
export async function requeue(em: EntityManager, id: string, attempt: number, options: { runAfter: Date; note: string | null; messageInFlight: boolean }): Promise<boolean> {
  const rows = await queryRowsOutsideTransaction<{ id: string }>(
    em,
    `update "task_record"
        set "status" = 'QUEUED', "start_time" = null, "message_id" = null, "dispatched_at" = case when ? then now() end, "run_after" = ?::timestamptz, "note" = ?
      where "id" = ? and "status" = 'RUNNING' and "attempt" = ?
      returning "id"`,
    [options.messageInFlight, options.runAfter.toISOString(), storableText(options.note), id, attempt],
  );
  return rows.length === 1;
}
