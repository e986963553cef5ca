// Every statement the library runs on task_record must stay index-backed: on a table of 20,000 rows (generated
// in SQL, mostly terminal rows, ANALYZEd), the planner, left to itself, must choose no Seq Scan on task_record
// and no index scan that returns a tenth of it or more. On PostgreSQL (DATABASE_URL) and on PGlite.
// The statements are not copied here: each records function runs once with its SQL captured at the ORM seam
// (nothing is executed), then EXPLAIN (FORMAT JSON) runs that exact text with the same parameters.
import type { EntityManager } from '@mikro-orm/core';
import { queryRowsOutsideTransaction } from '../../src/runtime/orm';
import { knexSeam } from '../../src/runtime/orm/knex';
import { kyselySeam } from '../../src/runtime/orm/kysely';
import { cancelInserted, cancelQueued } from '../../src/runtime/records/cancel';
import { claim, claimMany, completeAndClaim, releaseClaim } from '../../src/runtime/records/claim';
import { complete } from '../../src/runtime/records/complete';
import { deleteOldTerminal } from '../../src/runtime/records/delete-old-terminal';
import { fail, markRetrying } from '../../src/runtime/records/end-attempt';
import { findRows } from '../../src/runtime/records/find-rows';
import { findStatus } from '../../src/runtime/records/find-status';
import { insertClaimed } from '../../src/runtime/records/insert-claimed';
import { insertQueued } from '../../src/runtime/records/insert-queued';
import { insertQueuedOnce } from '../../src/runtime/records/insert-queued-once';
import { insertQueuedRows } from '../../src/runtime/records/insert-queued-rows';
import { lockForReplay } from '../../src/runtime/records/lock-for-replay';
import { markDispatched } from '../../src/runtime/records/mark-dispatched';
import { markDispatchedInTransaction } from '../../src/runtime/records/mark-dispatched-in-transaction';
import { requeue } from '../../src/runtime/records/requeue';
import { newTaskRow } from '../../src/runtime/records/row';
import { selectQueuedIds } from '../../src/runtime/records/select-queued-ids';
import { selectQueuedIdsInOrder } from '../../src/runtime/records/select-queued-ids-in-order';
import { selectUndispatchedForUpdate } from '../../src/runtime/records/select-undispatched-for-update';
import { sweepRunning } from '../../src/runtime/records/sweep-running';
import { createTestOrm, engine, type TestDatabase } from '../support/database';
import { generateRowsSql, type TaskRowsShape } from '../support/task-rows';

/** The table's shape: a few hundred QUEUED and RUNNING rows among many terminal ones (~2 % FAILED). */
const SHAPE: TaskRowsShape = { terminal: 19_500, queued: 400, undispatched: 100, running: 100, lost: 10 };

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows': number;
  'Filter'?: string;
  'Plans'?: PlanNode[];
}

/** Every node of a plan tree (sub-plans and init-plans are children too). */
function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

/**
 * The nodes that read all or much of task_record: a Seq Scan, or an index scan expected to return at least a
 * tenth of the table's `rows` (a bitmap scan of the status index for the terminal statuses reads every page
 * just the same: PGlite's planner picks that where PostgreSQL picks a Seq Scan).
 */
function wholeTableReads(plan: PlanNode, rows: number): string[] {
  return nodesOf(plan).flatMap((n) => {
    if (n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'task_record') return [`Seq Scan on task_record, filter ${n.Filter ?? 'none'}`];
    const index = n['Index Name'];
    if (index?.startsWith('task_record_') && n['Plan Rows'] >= rows / 10) return [`${n['Node Type']} on ${index}: ${n['Plan Rows']} of ${rows} rows`];
    return [];
  });
}

interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

describe(`Every statement on task_record is index-backed (${engine})`, () => {
  let db: TestDatabase;
  /** task_record's row count as ANALYZE saw it. */
  let tableRows = 0;
  /** Ids of representative rows, read after the table is filled. */
  const ids = { queued: '', running: '', failed: '', retrying: '', key: '', some: [] as string[] };
  const fork = () => db.orm.em.fork() as unknown as EntityManager;

  /**
   * Runs `call` with the seam's query replaced (MikroORM 6 and 7): each statement is recorded and answered
   * with the next of `replies` (default no rows), so a function that reads its first result goes on.
   */
  async function statementsOf(call: (em: EntityManager) => Promise<unknown>, replies: unknown[][] = []): Promise<Statement[]> {
    const seen: Statement[] = [];
    const spies = [knexSeam, kyselySeam].map((seam) =>
      jest.spyOn(seam, 'query').mockImplementation(async <T>(_em: EntityManager, sql: string, params: readonly unknown[]) => {
        seen.push({ sql, params: [...params] });
        return (replies[seen.length - 1] ?? []) as T[];
      }),
    );
    try {
      await call(fork());
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    return seen;
  }

  /** The JSON plan of a statement, with the planner's own choices on the real statistics. */
  async function planOf(statement: Statement): Promise<PlanNode> {
    const [row] = await queryRowsOutsideTransaction<{ 'QUERY PLAN': unknown }>(fork(), `explain (format json) ${statement.sql}`, statement.params);
    const json = row['QUERY PLAN'];
    const parsed = (typeof json === 'string' ? JSON.parse(json) : json) as { Plan: PlanNode }[];
    return parsed[0].Plan;
  }

  beforeAll(async () => {
    db = await createTestOrm();
    await db.sql(generateRowsSql(SHAPE));
    await db.sql('analyze "task_record"');
    [{ rows: tableRows }] = await db.sql<{ rows: number }>('select "reltuples"::int as "rows" from "pg_class" where "relname" = \'task_record\'');
    const pick = async (status: string, limit = 1) =>
      (await db.sql<{ id: string }>(`select "id" from "task_record" where "status" = '${status}' order by "enqueued_at" limit ${limit}`)).map((r) => r.id);
    [ids.queued] = await pick('QUEUED');
    [ids.running] = await pick('RUNNING');
    [ids.failed] = await pick('FAILED');
    [ids.retrying] = await pick('RETRYING');
    ids.some = [...(await pick('QUEUED', 5)), ...(await pick('SUCCESS', 5))];
    [{ key: ids.key }] = await db.sql<{ key: string }>('select "idempotency_key" as "key" from "task_record" where "idempotency_key" is not null limit 1');
  }, 120_000);
  afterAll(() => db?.close());

  const newRow = (fields: { idempotencyKey?: string } = {}) =>
    newTaskRow({ taskName: 'scale.task1', kwargs: { n: 1 }, queue: 'default', hardTimeout: 60, runAfter: new Date(), ...fields });

  /** Each library statement that reads or writes task_record by a condition, with representative parameters; `replies` answer the captured statements in turn. */
  const cases: { name: string; call: (em: EntityManager) => Promise<unknown>; replies?: () => unknown[][] }[] = [
    { name: 'claim by id (records/claim)', call: (em) => claim(em, ids.queued, 'scale.task0', 'message-1') },
    { name: 'claim the deliveries the lanes start with (records/claim claimMany)', call: (em) => claimMany(em, ids.some.map((id, n) => ({ id, taskName: 'scale.task0', messageId: `message-${n}` }))) },
    {
      name: 'SUCCESS with the next delivery’s claim (records/claim completeAndClaim)',
      call: (em) => completeAndClaim(em, ids.running, 1, { result: { ok: true } }, { id: ids.queued, taskName: 'scale.task0', messageId: 'message-3' }),
      replies: () => [[{ completed: 1, next: null, start_micros: null }]],
    },
    { name: 'put back a claim in doubt (records/claim releaseClaim)', call: (em) => releaseClaim(em, { id: ids.running, taskName: 'scale.task0', messageId: 'message-4', startMicros: '0' }) },
    { name: 'insert the rows of a flush (records/insert-queued-rows)', call: (em) => insertQueuedRows(em, [{ ...newRow(), enqueuedAt: new Date() }, { ...newRow(), enqueuedAt: new Date() }]) },
    { name: 'complete a RUNNING attempt (records/complete)', call: (em) => complete(em, ids.running, 1, { result: { ok: true } }) },
    { name: 'fail a RUNNING attempt (records/end-attempt)', call: (em) => fail(em, ids.running, 1, { traceback: 'Error: boom' }) },
    { name: 'mark a RUNNING attempt RETRYING (records/end-attempt)', call: (em) => markRetrying(em, ids.running, 1, { traceback: null, note: 'retry' }) },
    { name: 'requeue a RUNNING attempt (records/requeue)', call: (em) => requeue(em, ids.running, 1, { runAfter: new Date(), note: null, messageInFlight: false }) },
    { name: 'relay: select undispatched rows for update (records/select-undispatched-for-update)', call: (em) => selectUndispatchedForUpdate(em, 60, 900, 500) },
    { name: 'relay: mark dispatched in its transaction (records/mark-dispatched-in-transaction)', call: (em) => markDispatchedInTransaction(em, ids.some) },
    { name: 'outbox: mark dispatched (records/mark-dispatched)', call: (em) => markDispatched(em, ids.some) },
    { name: 'outbox: committed QUEUED ids (records/select-queued-ids)', call: (em) => selectQueuedIds(em, ids.some) },
    { name: 'in-process: QUEUED ids in order (records/select-queued-ids-in-order)', call: (em) => selectQueuedIdsInOrder(em) },
    { name: 'in-process: QUEUED ids of some tasks in order (records/select-queued-ids-in-order)', call: (em) => selectQueuedIdsInOrder(em, ['scale.task1', 'scale.task2']) },
    { name: 'sweep RUNNING rows past their hard timeout (records/sweep-running)', call: (em) => sweepRunning(em, 60, 'swept') },
    { name: 'dead letters: rows by ids (records/find-rows)', call: (em) => findRows(em, ids.some) },
    { name: 'status of a row (records/find-status)', call: (em) => findStatus(em, ids.failed) },
    { name: 'cancel a QUEUED row or its root’s latest attempt, then read its status and that attempt (records/cancel)', call: (em) => cancelQueued(em, ids.retrying) },
    { name: 'cancel rows just inserted, cancelled before their flush (records/cancel cancelInserted)', call: (em) => cancelInserted(em, ids.some) },
    { name: 'lock a root for replay, then read the row and its last attempt (records/lock-for-replay)', call: (em) => lockForReplay(em, ids.failed), replies: () => [[{ root_id: ids.failed }], [{ id: ids.failed, root_id: ids.failed, last: 1 }]] },
    { name: 'insert a QUEUED row once: the conflict path (records/insert-queued-once)', call: (em) => insertQueuedOnce(em, newRow({ idempotencyKey: ids.key })), replies: () => [[], [{ id: ids.queued, task_name: 'scale.task3' }]] },
    { name: 'insert a QUEUED row (records/insert-queued)', call: (em) => insertQueued(em, newRow()) },
    { name: 'insert a claimed row for a foreign message (records/insert-claimed)', call: (em) => insertClaimed(em, { ...newRow(), id: ids.running }, 'message-2') },
  ];

  it.each(cases)('$name', async ({ call, replies }) => {
    const statements = await statementsOf(call, replies?.());
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const plan = await planOf(statement);
      expect({ sql: statement.sql, reads: wholeTableReads(plan, tableRows) }).toEqual({ sql: statement.sql, reads: [] });
    }
  });

  // Found by this test: the cleanup used to read the whole table (no index has coalesce(end_time, enqueued_at)). It
  // now finds old rows through the start_time index: a range of it for rows that ran (start_time <= end_time), its
  // null entries for rows that never started (CANCELLED).
  it('cleanup: delete old terminal rows (records/delete-old-terminal)', async () => {
    const statements = await statementsOf((em) => deleteOldTerminal(em, 30, 1000));
    expect(statements).toHaveLength(1);
    expect(wholeTableReads(await planOf(statements[0]), tableRows)).toEqual([]);
  });

  it('the plan walker finds a Seq Scan where there is no index (a filter on kwargs), and an index scan over most of the table', async () => {
    expect(tableRows).toBeGreaterThan(15_000); // ANALYZE saw the table
    const plan = await planOf({ sql: 'select * from "task_record" where "kwargs"->>\'n\' = ?', params: ['1'] });
    expect(wholeTableReads(plan, tableRows)).toEqual([expect.stringMatching(/^Seq Scan on task_record/)]);
    const everySuccess = await planOf({ sql: 'select "id" from "task_record" where "status" = ?', params: ['SUCCESS'] });
    expect(wholeTableReads(everySuccess, tableRows)).toHaveLength(1);
  });
});
