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

/** What a new QUEUED row holds (the rest takes column defaults). */
export interface NewTaskRow {
  id: string;
  taskName: string;
  kwargs: Record<string, unknown>;
  queue: string;
  hardTimeout: number;
  runAfter: Date;
  idempotencyKey?: string | null;
  attempt?: number;
  rootId?: string;
}

/** JSON text for a jsonb parameter (em.execute inlines parameters client-side). */
export function jsonParam(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}
