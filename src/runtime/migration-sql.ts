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

/**
 * The second migration: the status CHECK constraint also allows CANCELLED. No row is read or rewritten: the
 * new constraint is added NOT VALID, so the table is locked (ACCESS EXCLUSIVE) only for the catalog change,
 * not for a scan. PostgreSQL still checks it on every inserted and updated row, and every existing row
 * satisfies it (the old constraint allowed a subset). `lock_timeout` makes the change give up after 5 s
 * (the migration fails and can be run again) instead of queueing every statement on the table behind a long
 * transaction. An operator may `alter table task_record validate constraint task_record_status_check` at a
 * quiet time (it scans under SHARE UPDATE EXCLUSIVE, which lets reads and writes go on).
 */
export const ALLOW_CANCELLED_SQL: readonly string[] = [
  "set local lock_timeout = '5s'",
  `alter table "task_record" drop constraint "task_record_status_check",
    add constraint "task_record_status_check" check ("status" in ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'RETRYING', 'CANCELLED')) not valid`,
  'set local lock_timeout to default',
];

/** Undoes {@link ALLOW_CANCELLED_SQL}: CANCELLED rows become FAILED (with a note) so the old constraint holds. */
export const DISALLOW_CANCELLED_SQL: readonly string[] = [
  'update "task_record" set "status" = \'FAILED\', "note" = coalesce("note" || \'; \', \'\') || \'was CANCELLED\' where "status" = \'CANCELLED\'',
  `alter table "task_record" drop constraint "task_record_status_check",
    add constraint "task_record_status_check" check ("status" in ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'RETRYING'))`,
];
