import { EntitySchema } from '@mikro-orm/core';
import { z } from 'zod';
import { configureLambdaTasks, resetLambdaTasksConfig } from '../../src/runtime/config';
import { LambdaTasksError } from '../../src/runtime/errors';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { clearTaskRegistry } from '../../src/runtime/registry';
import type { TaskContext } from '../../src/runtime/types';
import { createTestOrm, engine, type TestDatabase } from '../support/database';
import { START_TIMEOUT_MS } from '../support/worker-environment';

class Visit {
  id!: number;
  who!: string;
}
const VisitSchema = new EntitySchema<Visit>({ class: Visit, tableName: 'visit', properties: { id: { type: 'integer', primary: true, autoincrement: true }, who: { type: 'string' } } });

describe(`Direct call of a task (${engine})`, () => {
  let db: TestDatabase;
  let seen: TaskContext | undefined;
  const recordVisit = lambdaTask({ name: 'visits.record', args: z.object({ who: z.string() }) }, async ({ who }, ctx) => {
    seen = ctx;
    ctx.em.persist(Object.assign(new Visit(), { who }));
    await ctx.em.flush();
    return `hello ${who}`;
  });

  beforeAll(async () => {
    db = await createTestOrm({ entities: [VisitSchema] });
    await db.sql('create table "visit" ("id" serial primary key, "who" text not null)');
    configureLambdaTasks({ queues: { default: 'https://q/default' } });
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await db?.close();
    clearTaskRegistry();
    resetLambdaTasksConfig();
  });

  it('returns the function’s value, with no task id, a never-aborting signal and the given em', async () => {
    const em = db.orm.em.fork();
    await expect(recordVisit({ who: 'Alice' }, { em })).resolves.toBe('hello Alice');
    expect(seen).toMatchObject({ taskId: null, taskName: 'visits.record', attempt: 1 });
    expect(seen!.em).toBe(em);
    expect(seen!.signal.aborted).toBe(false);
  });

  it('runs inside the caller’s transaction: its write rolls back with it', async () => {
    const before = await db.orm.em.fork().count(VisitSchema);
    await expect(
      db.orm.em.fork().transactional(async (em) => {
        await recordVisit({ who: 'Bob' }); // no em: the transaction's, from TransactionContext
        expect(seen!.em).toBe(em);
        throw new Error('caller fails after the task');
      }),
    ).rejects.toThrow('caller fails after the task');
    expect(await db.orm.em.fork().count(VisitSchema)).toBe(before);
    expect(await db.orm.em.fork().count(VisitSchema, { who: 'Bob' })).toBe(0);
  });

  it('commits with the caller’s transaction', async () => {
    await db.orm.em.fork().transactional(async (em) => {
      await recordVisit({ who: 'Carol' }, { em });
    });
    expect(await db.orm.em.fork().count(VisitSchema, { who: 'Carol' })).toBe(1);
  });

  it('validates the arguments first', async () => {
    await expect(recordVisit({ who: 42 } as never, { em: db.orm.em.fork() })).rejects.toThrow('Task "visits.record": args: who: ');
  });

  it('without an em and outside any context, says how to give one', async () => {
    await expect(recordVisit({ who: 'Dan' })).rejects.toThrow(LambdaTasksError);
    await expect(recordVisit({ who: 'Dan' })).rejects.toThrow(/no EntityManager: pass \{ em \}/);
  });
});
