import type { TestDatabase } from './database';

/** A table where tasks record each committed run: counting its rows per task tells lost and double runs. */
export async function createRunLog(db: TestDatabase): Promise<void> {
  await db.sql('create table if not exists "run_log" ("id" serial primary key, "task_id" uuid not null)');
}

/**
 * Tasks lost (a row that never reached a terminal status, or SUCCESS without a committed run) and
 * tasks run twice (more than one committed run), among the given ids.
 */
export async function account(db: TestDatabase, ids: readonly string[]): Promise<{ lost: string[]; twice: string[] }> {
  if (ids.length === 0) return { lost: [], twice: [] };
  const rows = await db.sql<{ id: string; status: string; runs: number }>(
    `select t.id, t.status, (select count(*)::int from run_log r where r.task_id = t.id) as runs
       from task_record t where t.id in (?)`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const lost = ids.filter((id) => {
    const row = byId.get(id);
    return !row || !['SUCCESS', 'FAILED', 'RETRYING'].includes(row.status) || (row.status === 'SUCCESS' && row.runs === 0);
  });
  const twice = ids.filter((id) => (byId.get(id)?.runs ?? 0) > 1);
  return { lost, twice };
}
