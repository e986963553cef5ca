import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import { storableText } from '../text';

/** A row the sweep marked FAILED: its id, task, queue and how long it had been running (ms). */
export interface SweptRow {
  readonly id: string;
  readonly task_name: string;
  readonly queue: string;
  readonly running_ms: number;
}

/** Marks FAILED the RUNNING rows whose start time + hard timeout + margin has passed; returns them. */
export async function sweepRunning(em: EntityManager, marginSeconds: number, note: string): Promise<SweptRow[]> {
  return queryRowsOutsideTransaction(
    em,
    `update "task_record"
        set "status" = 'FAILED', "end_time" = clock_timestamp(), "note" = ?,
            "traceback" = coalesce("traceback", ?)
      where "status" = 'RUNNING' and "start_time" + make_interval(secs => "hard_timeout" + ?) < now()
      returning "id", "task_name", "queue", (extract(epoch from clock_timestamp() - "start_time") * 1000)::float8 as "running_ms"`,
    [storableText(note), storableText(`LostTask: ${note}`), marginSeconds],
  );
}
