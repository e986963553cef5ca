// Enqueue cost: a transaction that inserts N app rows and enqueues N tasks (flush, commit, dispatch to
// fauxqs) against the same transaction without tasks. Also counts SQL statements and SQS calls.
import { EntitySchema } from '@mikro-orm/core';
import { z } from 'zod';
import { benchDatabase, countQueries, emit, run, scaled, summary } from './support';
import { Fauxqs } from '../examples/support/fauxqs';
import { configureLambdaTasks } from '../src/runtime/config';
import { lambdaTask } from '../src/runtime/lambda-task';

class Order {
  id!: number;
  item!: string;
}
const OrderSchema = new EntitySchema<Order>({ class: Order, tableName: 'bench_order', properties: { id: { type: 'integer', primary: true, autoincrement: true }, item: { type: 'string' } } });
const ship = lambdaTask({ name: 'bench.ship', args: z.object({ orderId: z.number() }) }, async () => null);

run(async () => {
  const n = scaled(1000);
  const rounds = 5;
  const db = await benchDatabase({ entities: [OrderSchema] });
  const fauxqs = await Fauxqs.start();
  try {
    await db.orm.em.getConnection().execute('create table bench_order (id serial primary key, item text not null)');
    const queue = await fauxqs.createQueue('bench-enqueue');
    let sqsCalls = 0;
    fauxqs.client.middlewareStack.add((next) => async (args) => {
      sqsCalls++;
      return next(args);
    }, { step: 'initialize', name: 'countSqs' });
    configureLambdaTasks({ queues: { default: { url: queue.url } }, sqsClient: fauxqs.client });
    const queries = countQueries(db.orm);

    const transaction = async (withTasks: boolean) => {
      const started = performance.now();
      await db.orm.em.fork().transactional(async (em) => {
        const orders = Array.from({ length: n }, (_, i) => Object.assign(new Order(), { item: `item ${i}` }));
        em.persist(orders);
        await em.flush();
        if (withTasks) for (const order of orders) ship.executeOnCommit({ orderId: order.id }, { em });
      });
      return performance.now() - started;
    };
    await transaction(true); // warm up both paths
    await transaction(false);
    const times = { with: [] as number[], without: [] as number[] };
    let statementsWith = 0;
    let statementsWithout = 0;
    let callsWith = 0;
    for (let r = 0; r < rounds; r++) {
      queries.reset();
      sqsCalls = 0;
      times.with.push(await transaction(true));
      statementsWith = queries.count;
      callsWith = sqsCalls;
      queries.reset();
      times.without.push(await transaction(false));
      statementsWithout = queries.count;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const withMs = median(times.with);
    const withoutMs = median(times.without);
    const figure = emit(`enqueue.transaction_ms.${n}_rows_${n}_tasks`, withMs, 'ms', withoutMs);
    emit('enqueue.sql_statements', statementsWith, 'statements', statementsWithout);
    emit('enqueue.sqs_calls', callsWith, 'calls');
    emit('enqueue.per_task_overhead', (withMs - withoutMs) / n, 'ms/task');
    await fauxqs.drain(queue.url);
    summary(`enqueue: ${n} rows + ${n} tasks ${withMs.toFixed(0)} ms vs ${n} rows ${withoutMs.toFixed(0)} ms (ratio ${figure.ratio}); ${statementsWith} vs ${statementsWithout} SQL statements; ${callsWith} SQS calls`);
  } finally {
    await fauxqs.stop();
    await db.close();
  }
});
