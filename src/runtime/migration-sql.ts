/**
 * The DDL of the `task_record` table, shared by the shipped Migration class and tests.
 * Unqualified names: the table goes into the connection's search_path schema.
 */
export const CREATE_TASK_RECORD_SQL: readonly string[] = [
  `create table "task_record" (
    "id" uuid not null,
    "task_name" varchar(255) not null,
    "kwargs" jsonb not null,
    "queue" varchar(80) not null,
    "status" text not null,
    "attempt" int not null default 1,
    "root_id" uuid not null,
    "idempotency_key" varchar(255) null,
    "hard_timeout" int not null,
    "enqueued_at" timestamptz not null default now(),
    "run_after" timestamptz not null default now(),
    "dispatched_at" timestamptz null,
    "start_time" timestamptz null,
    "end_time" timestamptz null,
    "result" jsonb null,
    "traceback" text null,
    "note" text null,
    "message_id" varchar(255) null,
    constraint "task_record_pkey" primary key ("id"),
    constraint "task_record_status_check" check ("status" in ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'RETRYING')),
    constraint "task_record_attempt_check" check ("attempt" >= 1),
    constraint "task_record_hard_timeout_check" check ("hard_timeout" between 1 and 900)
  )`,
  'create unique index "task_record_idempotency_key_unique" on "task_record" ("idempotency_key")',
  'create index "task_record_task_name_index" on "task_record" ("task_name")',
  'create index "task_record_status_index" on "task_record" ("status")',
  'create index "task_record_start_time_index" on "task_record" ("start_time" desc)',
  'create index "task_record_root_id_index" on "task_record" ("root_id")',
  'create index "task_record_undispatched_index" on "task_record" ("enqueued_at") where "status" = \'QUEUED\' and "dispatched_at" is null',
];

export const DROP_TASK_RECORD_SQL: readonly string[] = ['drop table if exists "task_record"'];

/** How long a shipped migration waits for its lock on `task_record` before it gives up (and can be run again). */
export const MIGRATION_LOCK_TIMEOUT = '5s';

/**
 * Wraps DDL in one `do` block that waits at most {@link MIGRATION_LOCK_TIMEOUT} for each lock it takes, then
 * fails with a message that says what to do. The timeout is set with `set_config(…, true)`, which lasts until
 * the end of the current transaction: MikroORM's migration transaction when `migrations.transactional` is on
 * (the block puts the previous value back at its end, so later migrations are not affected), else the implicit
 * transaction of this one statement. So it holds in both modes and never stays on a pooled connection (a
 * plain `set local` outside a transaction does nothing, and a session `set` would outlive a failed migration).
 */
function withLockTimeout(migration: string, body: string): string {
  return `do $lambda_tasks$
declare
  previous text := current_setting('lock_timeout');
begin
  perform set_config('lock_timeout', '${MIGRATION_LOCK_TIMEOUT}', true);
${body}
  perform set_config('lock_timeout', previous, true);
exception when lock_not_available then
  raise exception 'cdk-lambda-tasks migration %: could not lock task_record within 5 s: a long transaction holds it (see pg_locks); run the migration again when it has ended', '${migration}'
    using errcode = 'lock_not_available';
end
$lambda_tasks$`;
}

/**
 * The second migration: the status CHECK constraint also allows CANCELLED. No row is read or rewritten: the
 * new constraint is added NOT VALID, so the table is locked (ACCESS EXCLUSIVE) only for the catalog change,
 * not for a scan. PostgreSQL still checks it on every inserted and updated row, and every existing row
 * satisfies it (the old constraint allowed a subset). The lock timeout makes the change give up after 5 s
 * (the migration fails and can be run again) instead of queueing every statement on the table behind a long
 * transaction. An operator may `alter table task_record validate constraint task_record_status_check` at a
 * quiet time (it scans under SHARE UPDATE EXCLUSIVE, which lets reads and writes go on).
 */
export const ALLOW_CANCELLED_SQL: readonly string[] = [
  withLockTimeout(
    '2 (CANCELLED)',
    `  alter table "task_record" drop constraint "task_record_status_check",
    add constraint "task_record_status_check" check ("status" in ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'RETRYING', 'CANCELLED')) not valid;`,
  ),
];

/** Undoes {@link ALLOW_CANCELLED_SQL}: CANCELLED rows become FAILED (with a note) so the old constraint holds. */
export const DISALLOW_CANCELLED_SQL: readonly string[] = [
  'update "task_record" set "status" = \'FAILED\', "note" = coalesce("note" || \'; \', \'\') || \'was CANCELLED\' where "status" = \'CANCELLED\'',
  `alter table "task_record" drop constraint "task_record_status_check",
    add constraint "task_record_status_check" check ("status" in ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'RETRYING'))`,
];

/** The unique index of the third migration: one row per attempt of a task. */
export const UNIQUE_ATTEMPT_INDEX = 'task_record_root_attempt_unique';

/**
 * The third migration: `(root_id, attempt)` becomes unique, so two concurrent `retryTask` calls can no longer
 * both write the next attempt. Tables upgraded from earlier versions may already hold such duplicates (that
 * defect made them); no row is deleted: of each `(root_id, attempt)` the first row stays (the root row itself
 * for attempt 1, else the earliest `enqueued_at`, then the smallest id), and every later one becomes the root
 * of a history of its own (`root_id` = its id; attempt, status and data unchanged) with a note naming the task
 * it was split from. A split row thus never collides with a later attempt of either history (a worker's retry
 * writes attempt + 1 under the row's own root). Renumbering the duplicates past the root's last attempt was
 * the other choice; it would make a retry of the kept attempt collide with the renumbered row.
 *
 * The index is built in the same statement, under a SHARE lock: reads go on, writes to `task_record` wait
 * for the build (the whole migration took 4.6 s on a table of a million rows on a busy 2-core test machine). The lock timeout makes it give up after 5 s behind a long
 * transaction. On a large table an operator may build it first without blocking writes
 * (`create unique index concurrently task_record_root_attempt_unique on task_record (root_id, attempt)`,
 * after the duplicates are split as above); the migration then finds the valid index and only checks it. An
 * invalid one (a concurrent build that failed) is dropped and built again.
 */
export const UNIQUE_ATTEMPT_SQL: readonly string[] = [
  withLockTimeout(
    '3 (unique attempts)',
    `  update "task_record" t
     set "root_id" = t."id",
         "note" = 'split from task ' || t."root_id" || ' by migration 3: a second attempt ' || t."attempt" || ' of it (concurrent retryTask calls)'
           || coalesce('; ' || t."note", '')
    from (select "id", row_number() over (partition by "root_id", "attempt" order by ("id" = "root_id") desc, "enqueued_at", "id") as "n"
            from "task_record"
           where ("root_id", "attempt") in (select "root_id", "attempt" from "task_record" group by "root_id", "attempt" having count(*) > 1)) d
   where t."id" = d."id" and d."n" > 1;
  if exists (select from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = '${UNIQUE_ATTEMPT_INDEX}' and not i.indisvalid) then
    drop index "${UNIQUE_ATTEMPT_INDEX}";
  end if;
  create unique index if not exists "${UNIQUE_ATTEMPT_INDEX}" on "task_record" ("root_id", "attempt");`,
  ),
];

/** Undoes {@link UNIQUE_ATTEMPT_SQL}: drops the index (rows split from a history stay roots of their own). */
export const DROP_UNIQUE_ATTEMPT_SQL: readonly string[] = [withLockTimeout('3 (unique attempts, down)', `  drop index if exists "${UNIQUE_ATTEMPT_INDEX}";`)];
