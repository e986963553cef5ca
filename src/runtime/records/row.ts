import type { TaskStatus } from '../record';

/** A `task_record` row as raw SQL returns it. */
export interface TaskRow {
  id: string;
  task_name: string;
  kwargs: Record<string, unknown>;
  queue: string;
  status: TaskStatus;
  attempt: number;
  root_id: string;
  idempotency_key: string | null;
  hard_timeout: number;
  enqueued_at: Date;
  run_after: Date;
  dispatched_at: Date | null;
  start_time: Date | null;
  end_time: Date | null;
  result: unknown;
  traceback: string | null;
  note: string | null;
  message_id: string | null;
}

const TIMESTAMP_COLUMNS = ['enqueued_at', 'run_after', 'dispatched_at', 'start_time', 'end_time'] as const;

/** A row that came back as JSON (`row_to_json`), with its timestamps as Dates as a plain `returning *` gives them. */
export function taskRowFromJson(json: Record<string, unknown>): TaskRow {
  const row = { ...json } as Record<string, unknown>;
  for (const column of TIMESTAMP_COLUMNS) row[column] = typeof row[column] === 'string' ? new Date(row[column] as string) : null;
  return row as unknown as TaskRow;
}

/** What a new QUEUED row holds (the rest takes column defaults). */
export interface NewTaskRow {
  readonly id: string;
  readonly taskName: string;
  readonly kwargs: Record<string, unknown>;
  readonly queue: string;
  readonly hardTimeout: number;
  readonly runAfter: Date;
  readonly idempotencyKey: string | null;
  readonly attempt: number;
  readonly rootId: string;
}

/**
 * The one place a new task row is built (executeOnCommit, executeOnCommitOnce, the next attempt of a retry):
 * a fresh id unless given, attempt 1 and its own id as root unless this is a later attempt.
 */
export function newTaskRow(fields: {
  readonly id?: string;
  readonly taskName: string;
  readonly kwargs: Record<string, unknown>;
  readonly queue: string;
  readonly hardTimeout: number;
  readonly runAfter: Date;
  readonly idempotencyKey?: string | null;
  readonly attempt?: number;
  readonly rootId?: string;
}): NewTaskRow {
  const id = fields.id ?? globalThis.crypto.randomUUID();
  return {
    id,
    taskName: fields.taskName,
    kwargs: fields.kwargs,
    queue: fields.queue,
    hardTimeout: fields.hardTimeout,
    runAfter: fields.runAfter,
    idempotencyKey: fields.idempotencyKey ?? null,
    attempt: fields.attempt ?? 1,
    rootId: fields.rootId ?? id,
  };
}

/** JSON text for a jsonb parameter (em.execute inlines parameters client-side). */
export function jsonParam(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

/** The next attempt of a row (a retry, or a replay of a failed or cancelled task): attempt + 1, same root id. */
export function nextAttemptOf(row: Pick<TaskRow, 'task_name' | 'kwargs' | 'queue' | 'hard_timeout' | 'attempt' | 'root_id'>, runAfter: Date): NewTaskRow {
  return newTaskRow({ taskName: row.task_name, kwargs: row.kwargs, queue: row.queue, hardTimeout: row.hard_timeout, runAfter, attempt: row.attempt + 1, rootId: row.root_id });
}
