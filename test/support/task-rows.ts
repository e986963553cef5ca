// Generated task_record rows for the scale benchmark and the EXPLAIN test: one INSERT … SELECT, no round trip per row.

/** How many rows of each kind: terminal ones (mostly SUCCESS) over the last 30 days, and recent active ones. */
export interface TaskRowsShape {
  readonly terminal: number;
  readonly queued: number;
  /** Of the QUEUED rows, how many were never sent (`dispatched_at` null). */
  readonly undispatched: number;
  readonly running: number;
  /** Of the RUNNING rows, how many are past their hard timeout (for the sweep). */
  readonly lost: number;
}

/** Rows as in production: time-ordered; terminal ones over the last 30 days, the active ones recent. */
export function generateRowsSql({ terminal, queued, undispatched, running, lost }: TaskRowsShape): string {
  const active = queued + running;
  return `insert into "task_record" ("id", "task_name", "kwargs", "queue", "status", "attempt", "root_id", "idempotency_key", "hard_timeout",
      "enqueued_at", "run_after", "dispatched_at", "start_time", "end_time", "result", "traceback", "message_id")
    select g.id, 'scale.task' || (g.i % 20), jsonb_build_object('n', g.i), 'default', g.status, 1, g.id,
           case when g.i % 10 = 3 then 'key-' || g.i end, case when g.i <= ${queued + lost} then 60 else 900 end,
           g.enqueued_at, g.enqueued_at,
           case when g.status = 'QUEUED' and g.i <= ${undispatched} then null when g.status <> 'CANCELLED' then g.enqueued_at + interval '50 ms' end,
           case when g.status = 'RUNNING' then now() - case when g.i <= ${queued + lost} then interval '1 hour' else interval '1 minute' end
                when g.status not in ('QUEUED', 'CANCELLED') then g.enqueued_at + interval '100 ms' end,
           case when g.status not in ('QUEUED', 'RUNNING') then g.enqueued_at + interval '1 second' end,
           case when g.status = 'SUCCESS' then '{"ok":true}'::jsonb end,
           case when g.status in ('FAILED', 'RETRYING') then 'Error: boom' end,
           case when g.status not in ('QUEUED', 'CANCELLED') then 'm-' || g.i end
      from (select gen_random_uuid() as id, i,
                   case when i <= ${queued} then 'QUEUED' when i <= ${active} then 'RUNNING' when i % 50 = 0 then 'FAILED'
                        when i % 200 = 1 then 'RETRYING' when i % 1000 = 7 then 'CANCELLED' else 'SUCCESS' end as status,
                   case when i <= ${active} then now() - interval '2 minutes' - i * interval '100 ms'
                        else now() - interval '30 days' + interval '10 minutes' + (i - ${active}) * (interval '30 days' - interval '11 minutes') / ${terminal} end as enqueued_at
              from generate_series(1, ${active + terminal}) as i) g`;
}

/**
 * QUEUED rows of a task, as the outbox leaves them (kwargs `{ n: i }`, queue default), inserted in one statement;
 * resolves to their ids in order.
 */
export async function insertQueuedRows(
  db: { sql<T>(query: string, params?: unknown[]): Promise<T[]> },
  taskName: string,
  count: number,
  options: { hardTimeout?: number } = {},
): Promise<string[]> {
  const rows = await db.sql<{ id: string }>(
    `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout)
     select id, ?, jsonb_build_object('n', i), 'default', 'QUEUED', 1, id, ?
       from (select gen_random_uuid() as id, i from generate_series(1, ?) as i) as s
     returning id`,
    [taskName, options.hardTimeout ?? 300, count],
  );
  return rows.map((r) => r.id);
}
