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
