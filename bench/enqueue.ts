// Enqueue, three figures, each measured interleaved against its baseline in the same run:
// - enqueue.ratio_to_floor: the library's transaction (1,000 app rows + 1,000 tasks: flush, commit, dispatch)
//   against a hand-written outbox doing the same work with the same tools: the same app rows through MikroORM,
//   the same zod validation, one multi-row INSERT of the same 1,000 task rows in the same transaction, commit,
//   the same SendMessageBatch calls (10 entries, 8 in flight) with a bare SDK client, and one UPDATE of
//   dispatched_at for the sent rows (what the library's outbox writes after a send).
// - enqueue.in_transaction_ratio_to_graphile: what the library adds inside the caller's transaction (validation,
//   insert, flush of 1,000 tasks; not the post-commit send) against graphile-worker's add_jobs of 1,000 jobs in
//   the same kind of transaction (after the same 1,000 app rows) on the same database.
// - scale.enqueue_per_task_ratio_10k_to_1k: the library's per-task cost (whole transaction) at 10,000 tasks in
//   one transaction against 1,000.
// Also enqueue.sql_statements: statements per transaction, the library against the floor.
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { runMigrations } from 'graphile-worker';
import { z } from 'zod/v4';
import { benchDatabase, countStatements, emit, interleave, ROUNDS, run, scaled, summary, timed } from './support';
import { Fauxqs } from '../examples/support/fauxqs';
import { mapWithConcurrency } from '../src/runtime/concurrency';
import { configureLambdaTasks } from '../src/runtime/config';
import { lambdaTask } from '../src/runtime/lambda-task';

class Order {
  id!: number;
  item!: string;
}
const OrderSchema = new EntitySchema<Order>({ class: Order, tableName: 'bench_order', properties: { id: { type: 'integer', primary: true, autoincrement: true }, item: { type: 'string' } } });
const shipArgs = z.object({ orderId: z.number().int() });
const ship = lambdaTask({ name: 'bench.ship', args: shipArgs }, async () => null);

const newOrders = (em: EntityManager, n: number): Order[] => {
  const orders = Array.from({ length: n }, (_, i) => Object.assign(new Order(), { item: `item ${i}` }));
  em.persist(orders);
  return orders;
};

run(async () => {
  const n = scaled(1000);
  const large = scaled(10_000, 100);
  const db = await benchDatabase({ entities: [OrderSchema], tag: 'enqueue' });
  const fauxqs = await Fauxqs.start().catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  const statements = countStatements();
  try {
    await db.orm.em.getConnection().execute('create table bench_order (id serial primary key, item text not null)');
    await runMigrations({ connectionString: db.url, logger: undefined, noHandleSignals: true });
    const queue = await fauxqs.createQueue('bench-enqueue');
    configureLambdaTasks({ queues: { default: { url: queue.url } }, sqsClient: fauxqs.client });
    const purge = () => fauxqs.drain(queue.url);

    /** The library: app rows, executeOnCommit per order, commit (the outbox sends after it). */
    const library = (count: number) => (db.orm.em.fork() as EntityManager).transactional(async (em) => {
      const orders = newOrders(em, count);
      await em.flush();
      for (const order of orders) ship.executeOnCommit({ orderId: order.id }, { em });
    });

    /** The floor: a hand-written outbox with the same tools (MikroORM, zod, the SDK). */
    const floor = async (count: number) => {
      const tasks: { id: string; task_name: string; kwargs: { orderId: number } }[] = [];
      await (db.orm.em.fork() as EntityManager).transactional(async (em) => {
        const orders = newOrders(em, count);
        await em.flush();
        for (const order of orders) tasks.push({ id: globalThis.crypto.randomUUID(), task_name: 'bench.ship', kwargs: shipArgs.parse({ orderId: order.id }) });
        await em.execute(
          `insert into task_record (id, task_name, kwargs, queue, status, attempt, root_id, hard_timeout, enqueued_at, run_after)
           select r.id, r.task_name, r.kwargs, 'default', 'QUEUED', 1, r.id, 300, now(), now()
             from json_to_recordset(?::json) as r(id uuid, task_name text, kwargs jsonb)`,
          [JSON.stringify(tasks)],
        );
      });
      const batches = Array.from({ length: Math.ceil(tasks.length / 10) }, (_, i) => tasks.slice(i * 10, i * 10 + 10));
      const sent: string[] = [];
      await mapWithConcurrency(batches, 8, async (batch) => {
        const response = await fauxqs.client.send(new SendMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: batch.map((t) => ({ Id: t.id, MessageBody: JSON.stringify(t), DelaySeconds: 0 })),
        }));
        if (response.Failed?.length) throw new Error(`${response.Failed.length} sends failed`);
        sent.push(...batch.map((t) => t.id));
      });
      await (db.orm.em.fork() as EntityManager).execute('update task_record set dispatched_at = now() where id in (select (json_array_elements_text(?::json))::uuid) and dispatched_at is null', [JSON.stringify(sent)]);
    };

    // Statements per transaction (one untimed run of each).
    statements.reset();
    await library(n);
    const libraryStatements = statements.count;
    statements.reset();
    await floor(n);
    const floorStatements = statements.count;
    await purge();

    const whole = await interleave(ROUNDS, async () => timed(() => floor(n)).finally(purge), async () => timed(() => library(n)).finally(purge));
    const f1 = emit('enqueue.ratio_to_floor', whole.subject, { unit: 'ms', baseline: whole.baseline, aim: '<= 1.3', ormDependent: true });
    emit('enqueue.sql_statements', libraryStatements, { unit: 'statements', baseline: floorStatements, ormDependent: true });

    // Inside the transaction only: after the same app rows, the library's enqueue + flush against add_jobs.
    const inTransaction = async (enqueue: (em: EntityManager, orders: Order[]) => Promise<unknown>): Promise<number> => {
      let ms = 0;
      await (db.orm.em.fork() as EntityManager).transactional(async (em) => {
        const orders = newOrders(em, n);
        await em.flush();
        ms = await timed(() => enqueue(em, orders));
      });
      await purge();
      return ms;
    };
    const graphile = (em: EntityManager, orders: Order[]) =>
      em.execute(
        'select graphile_worker.add_jobs(array(select json_populate_recordset(null::graphile_worker.job_spec, ?::json)))',
        [JSON.stringify(orders.map((order) => ({ identifier: 'bench.ship', payload: { orderId: order.id } })))],
      );
    const libraryInTransaction = async (em: EntityManager, orders: Order[]) => {
      for (const order of orders) ship.executeOnCommit({ orderId: order.id }, { em });
      await em.flush();
    };
    const inTx = await interleave(ROUNDS, () => inTransaction(graphile), () => inTransaction(libraryInTransaction));
    const f2 = emit('enqueue.in_transaction_ratio_to_graphile', inTx.subject, { unit: 'ms', baseline: inTx.baseline, aim: '<= 1.0', ormDependent: true });

    // Linear growth: per-task cost of one transaction with 10,000 tasks against one with 1,000.
    const perTask = (count: number) => async () => (await timed(() => library(count)).finally(purge)) / count;
    const scale = await interleave(Math.min(ROUNDS, 5), perTask(n), perTask(large));
    const f3 = emit('scale.enqueue_per_task_ratio_10k_to_1k', scale.subject, { unit: 'ms/task', baseline: scale.baseline, aim: '<= 1.2', ormDependent: true });
    summary(`enqueue: ${n} rows + ${n} tasks ${f1.value} ms vs the hand-written outbox ${f1.baseline} ms (ratio ${f1.ratio}, spread ${f1.spread}); `
      + `${libraryStatements} vs ${floorStatements} statements; in the transaction ${f2.value} ms vs graphile-worker add_jobs ${f2.baseline} ms; `
      + `${f3.value} ms/task at ${large} vs ${f3.baseline} at ${n}`);
  } finally {
    statements.stop();
    await fauxqs.stop();
    await db.close();
  }
});
