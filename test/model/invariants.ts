// The five invariants of DESIGN.md Revision 5, checked on the state a program left after quiescence.
import { rowsOf, type ProgramState, type RowState } from './harness';
import { ledger, OWN_ERROR } from './tasks';

const TERMINAL = new Set(['SUCCESS', 'FAILED', 'CANCELLED']);
/** Errors that are never a task's own: another's lock, a poisoned connection, a worker's configuration. */
const FOREIGN_ERRORS = /deadlock detected|current transaction is aborted|could not obtain lock|canceling statement|can never run on this worker|Transaction query already complete|LostTask: swept/i;
/** A deadline that ran out after the re-sends the contract allows is the worker's timeout, not another task's fault. */
const DEADLINE_EXHAUSTED = /^deadline: re-sent \d+ times for lack of time/;

const counted = (rows: { task_id: string; n: number }[]) => new Map(rows.map((r) => [r.task_id, r.n]));

/** I3: why this FAILED row's recorded error is not its task's own, or undefined when it is. */
function foreignFailure(row: RowState): string | undefined {
  const text = `${row.note ?? ''}\n${row.traceback ?? ''}`;
  if (FOREIGN_ERRORS.test(text)) return 'an error that is not the task\'s own';
  if (DEADLINE_EXHAUSTED.test(row.note ?? '')) return undefined;
  const mode = row.kwargs.mode;
  if (mode === 'throw') return OWN_ERROR.test(text) ? undefined : 'not the ModelTaskError it threw';
  if (mode === 'hang' || mode === 'hang-savepoint') return row.note === 'hard timeout' ? undefined : 'not its hard timeout';
  return 'a task that returns in time';
}

const brief = (row: RowState) => `${row.id} (${row.kwargs.mode ?? row.task_name}, attempt ${row.attempt}, ${row.status}${row.note ? `, note "${row.note}"` : ''}${row.traceback ? `, error "${row.traceback.split('\n')[0]}"` : ''})`;

/** Every violation of I1–I5 the program's final state shows, each prefixed with its invariant; empty when none. */
export async function checkInvariants(state: ProgramState): Promise<string[]> {
  const sql = state.env.db.sql.bind(state.env.db);
  const violations = [...state.violations];
  const rows = await rowsOf(state);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const effects = counted(await sql<{ task_id: string; n: number }>('select "task_id", count(*)::int as "n" from "model_effect" group by "task_id"'));
  const writes = counted(await sql<{ task_id: string; n: number }>('select "task_id", count(*)::int as "n" from "model_write" group by "task_id"'));

  // I1 at most once: each attempt (row) ran at most once, by both counts.
  for (const [id, n] of effects) if (n > 1) violations.push(`I1: ${byId.get(id) ? brief(byId.get(id)!) : id} ran ${n} times (side-effect log)`);
  for (const [id, n] of ledger.starts) if (n > 1 && (effects.get(id) ?? 0) <= 1) violations.push(`I1: ${id} ran ${n} times (in-process counter)`);

  // I2 progress: every committed invocation ended; nothing ran, or exists, for a rolled-back enqueue.
  for (const row of rows) if (!TERMINAL.has(row.status)) violations.push(`I2: ${brief(row)} never ended${row.dispatched_at ? ' (recorded as sent)' : ''}`);
  for (const id of state.committed) if (!byId.has(id)) violations.push(`I2: committed task ${id} has no row`);
  for (const id of state.rolledBack) {
    if (byId.has(id)) violations.push(`I2: ${brief(byId.get(id)!)} exists although its enqueue rolled back`);
    if (effects.has(id)) violations.push(`I2: ${id} ran although its enqueue rolled back`);
  }
  for (const id of state.cancelled) if (byId.get(id)?.status !== 'CANCELLED') violations.push(`I5: ${byId.get(id) ? brief(byId.get(id)!) : id} was cancelled (the cancel returned) but is not CANCELLED`);
  for (const row of rows) if (row.status === 'CANCELLED' && effects.has(row.id)) violations.push(`I2: ${brief(row)} ran although it was cancelled`);

  // I3 truth: SUCCESS iff the function returned and its write committed with it; FAILED writes rolled back; own errors only.
  for (const row of rows.filter((r) => r.task_name === 'model.work')) {
    const wrote = (writes.get(row.id) ?? 0) > 0;
    if (row.status === 'SUCCESS' && !(wrote && ledger.returned.has(row.id))) violations.push(`I3: ${brief(row)} is SUCCESS but ${wrote ? 'its function did not return' : 'its write is missing'}`);
    if (row.status === 'SUCCESS' && row.kwargs.mode !== 'ok') violations.push(`I3: ${brief(row)} is SUCCESS although its function ${row.kwargs.mode === 'throw' ? 'threw' : 'outlived its hard timeout'}`);
    if (row.status !== 'SUCCESS' && wrote) violations.push(`I3: ${brief(row)} kept its writes`);
    const foreign = row.status === 'FAILED' ? foreignFailure(row) : undefined;
    if (foreign) violations.push(`I3: ${brief(row)} is FAILED with ${foreign}`);
  }
  for (const [id] of writes) if (!byId.has(id)) violations.push(`I3: a write of ${id} committed without its row`);

  // I5 one history: (root_id, attempt) unique.
  const seen = new Map<string, string>();
  for (const row of rows) {
    const key = `${row.root_id}#${row.attempt}`;
    if (seen.has(key)) violations.push(`I5: attempt ${row.attempt} of ${row.root_id} exists twice (${seen.get(key)} and ${row.id})`);
    seen.set(key, row.id);
  }
  return violations;
}
