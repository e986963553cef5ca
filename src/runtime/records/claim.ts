import type { EntityManager } from '@mikro-orm/core';
import { queryRows, queryRowsOutsideTransaction } from '../orm';
import { jsonParam, taskRowFromJson, type TaskRow } from './row';

/** A delivery to claim: its row's id, the task name its message gives, the SQS message id (null in process). */
export interface ClaimRequest {
  readonly id: string;
  readonly taskName: string;
  readonly messageId: string | null;
}

/**
 * Claims a QUEUED row of the named task for this delivery (or for an in-process run, without message id):
 * RUNNING, start time, message id, and `dispatched_at` if the send was never recorded. Commits on its own.
 * Returns the row, or null when no QUEUED row of that id *and task name* exists (a duplicate delivery, no
 * such row, or a message that names another task than the row: the row is the truth).
 */
export async function claim(em: EntityManager, id: string, taskName: string, messageId: string | null): Promise<TaskRow | null> {
  const rows = await queryRowsOutsideTransaction<TaskRow>(
    em,
    `update "task_record"
        set "status" = 'RUNNING', "start_time" = now(), "message_id" = ?, "dispatched_at" = coalesce("dispatched_at", now())
      where "id" = ? and "status" = 'QUEUED' and "task_name" = ?
      returning *`,
    [messageId, id, taskName],
  );
  return rows[0] ?? null;
}

/**
 * Claims several deliveries in one statement, committed on its own, with the same rule as {@link claim} for
 * each (QUEUED, and of the task its message names). Only for rows that start at once: the worker claims its
 * first `concurrency` deliveries this way. A row someone else holds locked (an operator's uncommitted cancel) is
 * skipped, never waited for: its delivery claims it on its own. Returns the claimed rows by id; an id given twice
 * is claimed once.
 */
export async function claimMany(em: EntityManager, requests: readonly ClaimRequest[]): Promise<Map<string, TaskRow>> {
  if (requests.length === 0) return new Map();
  const rows = await queryRowsOutsideTransaction<TaskRow>(
    em,
    `update "task_record" as t
        set "status" = 'RUNNING', "start_time" = now(), "message_id" = m."message_id", "dispatched_at" = coalesce(t."dispatched_at", now())
       from unnest(?::uuid[], ?::text[], ?::text[]) as m("id", "task_name", "message_id")
      where t."id" = m."id" and t."status" = 'QUEUED' and t."task_name" = m."task_name"
        and t."id" in (select "id" from "task_record" where "id" = any(?::uuid[]) and "status" = 'QUEUED' for update skip locked)
      returning t.*`,
    [requests.map((r) => r.id), requests.map((r) => r.taskName), requests.map((r) => r.messageId), requests.map((r) => r.id)],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * One claim of a row, told apart from any other claim of it: the row, the message and the exact start time the
 * claim wrote (microseconds). A message id alone does not name one claim: SQS can hand one message to two
 * invocations at once, and each may claim the row in turn.
 */
export interface ClaimToken extends ClaimRequest {
  readonly startMicros: string;
}

/** The microseconds since the epoch of a timestamp column, as text (exact: `extract` returns numeric). */
const MICROS = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text`;

/**
 * Records SUCCESS for a RUNNING attempt and, in the same statement, claims the delivery its worker runs next:
 * both commit with the task's transaction, so the next task's claim costs no round trip of its own and is
 * never durable before the task it follows has committed (it starts right after). The claim's start time is
 * the clock's, not the transaction's. The next row is claimed only if nobody else holds it locked (`skip locked`):
 * a task's transaction never waits for another transaction's lock, which could hold a finished task past its
 * hard timeout or deadlock it. `completed` is false when the row was no longer this attempt's RUNNING row (roll
 * back then); `next` is the claimed row and its claim's token, or null when it was not QUEUED or was locked
 * (claim it on its own).
 */
export async function completeAndClaim(
  em: EntityManager,
  id: string,
  attempt: number,
  outcome: { result: unknown },
  next: ClaimRequest,
): Promise<{ completed: boolean; next: { row: TaskRow; token: ClaimToken } | null }> {
  const rows = await queryRows<{ completed: number; next: Record<string, unknown> | null; start_micros: string | null }>(
    em,
    `with "outcome" as (
       update "task_record"
          set "status" = 'SUCCESS', "end_time" = clock_timestamp(), "result" = ?::jsonb, "traceback" = null, "note" = null
        where "id" = ? and "status" = 'RUNNING' and "attempt" = ?
        returning "id"
     ), "claimed" as (
       update "task_record"
          set "status" = 'RUNNING', "start_time" = clock_timestamp(), "message_id" = ?, "dispatched_at" = coalesce("dispatched_at", clock_timestamp())
        where "status" = 'QUEUED'
          and "id" = (select "id" from "task_record" where "id" = ? and "status" = 'QUEUED' and "task_name" = ? for update skip locked)
        returning *
     )
     select (select count(*) from "outcome")::int as "completed", (select row_to_json(c) from "claimed" as c) as "next",
            (select ${MICROS('c."start_time"')} from "claimed" as c) as "start_micros"`,
    [jsonParam(outcome.result), id, attempt, next.messageId, next.id, next.taskName],
  );
  const row = rows[0];
  return {
    completed: row.completed === 1,
    next: row.next && row.start_micros ? { row: taskRowFromJson(row.next), token: { ...next, startMicros: row.start_micros } } : null,
  };
}

/** The claim condition of a token: this row, RUNNING, not ended, claimed by exactly that claim. */
const HELD_BY_TOKEN = `"id" = ? and "status" = 'RUNNING' and "task_name" = ? and "message_id" is not distinct from ? and "end_time" is null
        and ${MICROS('"start_time"')} = ?`;
const tokenParams = (token: ClaimToken) => [token.id, token.taskName, token.messageId, token.startMicros];

/**
 * Undoes a claim made by {@link completeAndClaim} whose transaction did not commit or whose commit is in doubt:
 * the row goes back to QUEUED only if that very claim holds it (its token), so the delivery's own claim can take
 * it again — never a claim another invocation made for its own receive of the same message. Commits on its own;
 * returns whether a row was put back.
 */
export async function releaseClaim(em: EntityManager, token: ClaimToken): Promise<boolean> {
  const rows = await queryRowsOutsideTransaction<{ id: string }>(
    em,
    `update "task_record" set "status" = 'QUEUED', "start_time" = null, "message_id" = null
      where ${HELD_BY_TOKEN}
      returning "id"`,
    tokenParams(token),
  );
  return rows.length === 1;
}

/**
 * The row a delivery's claim took, when that claim went out with the task before it, its commit could not be
 * confirmed and putting it back failed: held by exactly that claim (its token), not ended. Null otherwise — a
 * RUNNING row with the same message id may be another invocation's claim of its own receive of the message.
 */
export async function findOwnClaim(em: EntityManager, token: ClaimToken): Promise<TaskRow | null> {
  const rows = await queryRowsOutsideTransaction<TaskRow>(em, `select * from "task_record" where ${HELD_BY_TOKEN}`, tokenParams(token));
  return rows[0] ?? null;
}
