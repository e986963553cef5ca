import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../orm';
import { storableText } from '../text';

/** Marks FAILED the RUNNING rows whose start time + hard timeout + margin has passed; returns their ids and names. */
export async function sweepRunning(em: EntityManager, marginSeconds: number, note: string): Promise<{ id: string; task_name: string }[]> {
  return queryRowsOutsideTransaction(
    em,
    `update "task_record"
        set "status" = 'FAILED', "end_time" = clock_timestamp(), "note" = ?,
            "traceback" = coalesce("traceback", ?)
      where "status" = 'RUNNING' and "start_time" + make_interval(secs => "hard_timeout" + ?) < now()
      returning "id", "task_name"`,
    [storableText(note), storableText(`LostTask: ${note}`), marginSeconds],
  );
}
