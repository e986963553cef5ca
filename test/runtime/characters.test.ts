// The character policy (src/runtime/text.ts) end to end: task arguments from the whole UTF-16 range go
// through executeOnCommit → the outbox → SQS (fauxqs) → the worker, and either are refused at enqueue
// (exactly when PostgreSQL cannot store them) or run exactly once with what was enqueued.
import type { Message } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import fc from 'fast-check';
import { z } from 'zod';
import { TaskValidationError } from '../../src/runtime/errors';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { account } from '../support/accounting';
import { engine, type TestDatabase } from '../support/database';
import { deliver, deliverAll, enqueue, receiveMessages } from '../support/delivery';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

/** A nested value of the arguments: strings, and objects of them (keys drawn from the same strings). */
type Nested = string | { [key: string]: Nested };
interface Kwargs { text: string; list: string[]; nested: Nested }

const kwargsSchema = z.object({ text: z.string(), list: z.array(z.string()), nested: z.unknown() });

/** The task records what it received (as JSON text, which holds any string) and returns it as its result. */
const echo = lambdaTask({ name: 'chars.echo', args: kwargsSchema }, async (args, ctx) => {
  const em = ctx.em as EntityManager;
  await em.execute('insert into run_log (task_id) values (?)', [ctx.taskId]);
  await em.execute('insert into chars_seen (task_id, received) values (?, ?)', [ctx.taskId, JSON.stringify(args)]);
  return args;
});
// Arguments cannot hold U+0000 or a lone surrogate, so these tasks make them.
const badResult = lambdaTask({ name: 'chars.badResult', args: z.object({ make: z.enum(['nul', 'lone']) }) }, async ({ make }, ctx) => {
  await (ctx.em as EntityManager).execute('insert into run_log (task_id) values (?)', [ctx.taskId]);
  return { text: make === 'nul' ? 'a\u0000b' : 'a\uDC00b' };
});
const badError = lambdaTask({ name: 'chars.badError', args: z.object({}) }, async () => {
  throw new Error('nul \u0000 high \uD800 low \uDFFF pair \uD83D\uDE00 end');
});
const TASKS = [echo, badResult, badError];

/** The oracle, independent of the library's regex: PostgreSQL stores a string unless it holds U+0000 or is not well-formed UTF-16. */
const storable = (s: string): boolean => !s.includes('\u0000') && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
function allStorable(value: unknown): boolean {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.every(allStorable);
  if (typeof value === 'object' && value !== null) return Object.entries(value).every(([k, v]) => storable(k) && allStorable(v));
  return true;
}

/** Whether two JSON values are the same, code unit for code unit (object keys in any order). */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return ['[', ...v.map(canonical)];
    if (typeof v === 'object' && v !== null) return ['{', ...Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, w]) => [k, canonical(w)])];
    return v;
  };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Printable ASCII, for failure messages that show every code unit. */
const show = (value: unknown): string => (JSON.stringify(value) ?? String(value)).replace(/[^\x20-\x7E]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

// Strings from the whole range: any UTF-16 code unit (so lone surrogates of both kinds, and pairs by chance),
// any code point (astral included), and the nasty ones on purpose, alone or mixed with plain text.
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const NASTY = [
  '\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D', '\uDE00', '\uD83D\uDE00', '\uDBFF\uDFFF', '\uD800\uDC00',
  '\uFFFE', '\uFFFF', '\uFFFD', '\uFEFF', '\u0001', '\u0008', '\u000B', '\u001B', '\u001F', '\u007F', '\u0080', '\u0085', '\u009F',
  '\u2028', '\u2029', '\u200B', '\t', '\n', '\r', '"', '\\', '\\u0000', '/', "'", '?', '$1', '%s', '\uE000', '\uF8FF', '\u{1F600}', '\u{10FFFF}', 'é', '中',
];
const nastyUnit = fc.constantFrom(...NASTY);
const storableNastyUnit = fc.constantFrom(...NASTY.filter(storable));
// Weighted so that about 60 % of the arguments are storable (each holds several strings).
const text: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ unit: anyCodeUnit, maxLength: 12 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 4 },
  { arbitrary: fc.string({ unit: nastyUnit, maxLength: 6 }), weight: 1 },
  { arbitrary: fc.string({ unit: storableNastyUnit, maxLength: 6 }), weight: 2 },
  { arbitrary: fc.string({ unit: fc.oneof(anyCodeUnit, nastyUnit, fc.constantFrom('a', 'b', ' ')), maxLength: 10 }), weight: 1 },
);
const nested: fc.Arbitrary<Nested> = fc.letrec<{ node: Nested }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.dictionary(text, tie('node'), { maxKeys: 3 })),
})).node;
const kwargs: fc.Arbitrary<Kwargs> = fc.record({ text, list: fc.array(text, { maxLength: 3 }), nested: fc.oneof(nested, fc.dictionary(text, nested, { minKeys: 1, maxKeys: 3 })) });

describe(`Characters through the whole path (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  const source = () => ({ fauxqs, queue });
  const worker = () => createHandler({ tasks: TASKS, orm: db.orm });

  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'characters' }));
    await db.sql('create table "chars_seen" ("id" serial primary key, "task_id" uuid not null, "received" text not null)');
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
  });
  afterEach(async () => {
    if (!queue) return; // the start-up failed: its own error is reported
    await fauxqs.drain(queue.url).then((m) => fauxqs.deleteMessages(queue.url, m));
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  /**
   * One batch of the property: enqueues every value in one transaction; checks that exactly the unstorable
   * ones were refused (with TaskValidationError), that the bodies on the wire are printable ASCII, that
   * each accepted value ran exactly once and the task saw, stored and returned what was enqueued.
   */
  async function checkBatch(values: Kwargs[]): Promise<{ accepted: number; refused: number }> {
    const problems: string[] = [];
    const sent = new Map<string, Kwargs>();
    const report = () => new Error(`${problems.length} problem(s):\n${problems.join('\n')}`);
    try {
      await enqueue(db, (em) => {
        for (const value of values) {
          try {
            sent.set(echo.executeOnCommit(value, { em }), value);
            if (!allStorable(value)) problems.push(`accepted although unstorable: ${show(value)}`);
          } catch (error) {
            if (!(error instanceof TaskValidationError)) problems.push(`threw ${String(error)} (not a TaskValidationError) for ${show(value)}`);
            else if (allStorable(value)) problems.push(`refused although storable: ${show(value)}: ${show(error.message)}`);
            else if (!/holds (U\+0000 \(NUL\)|a lone surrogate U\+D[89A-F][0-9A-F]{2}),/.test(error.message)) problems.push(`refused with an unexpected reason: ${show(error.message)}`);
          }
        }
      });
    } catch (error) {
      // The commit failed (the database refused a row): say so, after what caused it.
      const { message, detail } = error as { message?: string; detail?: string };
      problems.push(`the enqueue transaction failed: ${show(String(message).slice(-200))} ${show(detail ?? '')}`);
      throw report();
    }
    const ids = [...sent.keys()];
    const messages: Message[] = await receiveMessages(source(), ids.length);
    for (const m of messages) {
      if (!/^[\x20-\x7E]*$/.test(m.Body ?? '')) problems.push(`a message body is not printable ASCII: ${show(m.Body)}`);
      // The worker runs the row's kwargs, so the body's are checked here: they must read back as enqueued too.
      const body = JSON.parse(m.Body!) as { task_id: string; kwargs: unknown };
      const expected = sent.get(body.task_id);
      if (expected && !sameJson(body.kwargs, expected)) problems.push(`${body.task_id}: enqueued ${show(expected)}, the message body holds ${show(body.kwargs)}`);
    }
    const onWire = messages.map((m) => (JSON.parse(m.Body!) as { task_id: string }).task_id).sort();
    if (show(onWire) !== show([...ids].sort())) problems.push(`messages on the wire ${show(onWire)} are not one per accepted task ${show([...ids].sort())}`);
    for (let i = 0; i < messages.length; i += 10) {
      const { response } = await deliver(source(), worker(), { messages: messages.slice(i, i + 10) });
      if (response.batchItemFailures.length > 0) problems.push(`batch item failures: ${show(response.batchItemFailures)}`);
    }
    if (ids.length > 0) {
      const seen = await db.sql<{ task_id: string; received: string }>('select task_id, received from chars_seen where task_id in (?)', [ids]);
      const rows = await db.sql<{ id: string; status: string; traceback: string | null }>('select id, status, traceback from task_record where id in (?)', [ids]);
      for (const id of ids) {
        const expected = sent.get(id)!;
        const row = rows.find((r) => r.id === id);
        const received = seen.filter((s) => s.task_id === id).map((s) => JSON.parse(s.received) as unknown);
        if (row?.status !== TaskStatus.SUCCESS) problems.push(`${id} ${show(expected)}: status ${row?.status}, traceback ${show(row?.traceback)}`);
        if (received.length !== 1) problems.push(`${id} ${show(expected)}: recorded ${received.length} times`);
        else if (!sameJson(received[0], expected)) problems.push(`${id}: enqueued ${show(expected)}, the task received ${show(received[0])}`);
        const task = row?.status === TaskStatus.SUCCESS ? await getTask(db.em.fork(), id) : undefined;
        if (task && !sameJson(task.kwargs, expected)) problems.push(`${id}: enqueued ${show(expected)}, stored kwargs ${show(task.kwargs)}`);
        if (task && !sameJson(task.result, expected)) problems.push(`${id}: enqueued ${show(expected)}, stored result ${show(task.result)}`);
      }
    }
    const accounting = await account(db, ids);
    if (accounting.lost.length + accounting.twice.length > 0) problems.push(`accounting ${show(accounting)}`);
    if (problems.length > 0) throw report();
    expect(accounting).toEqual({ lost: [], twice: [] });
    return { accepted: ids.length, refused: values.length - ids.length };
  }

  it('every string is refused at enqueue exactly when PostgreSQL cannot store it, or runs once with its kwargs intact', async () => {
    const totals = { accepted: 0, refused: 0 };
    // A random seed (fast-check prints it with the counterexample); the failure message lists every bad value.
    await fc.assert(
      fc.asyncProperty(fc.array(kwargs, { minLength: 60, maxLength: 80 }), async (values) => {
        const counts = await checkBatch(values);
        totals.accepted += counts.accepted;
        totals.refused += counts.refused;
      }),
      { numRuns: 4, endOnFailure: true },
    );
    expect(totals.accepted).toBeGreaterThan(100); // both outcomes were exercised
    expect(totals.refused).toBeGreaterThan(50);
  }, 120_000);

  it('the nasty characters one by one, in a value, a list item and an object key', async () => {
    const values: Kwargs[] = NASTY.map((c) => ({ text: `a${c}b`, list: [c], nested: { [`k${c}`]: { [c]: c } } }));
    const counts = await checkBatch(values);
    expect(counts.refused).toBe(values.filter((v) => !allStorable(v)).length);
    expect(counts.refused).toBeGreaterThan(5);
    expect(counts.accepted).toBeGreaterThan(30);
  }, 60_000);

  it('a result holding U+0000 or a lone surrogate fails the attempt with "cannot be stored", and its run is rolled back', async () => {
    const ids = await enqueue(db, (em) => [badResult.executeOnCommit({ make: 'nul' }, { em }), badResult.executeOnCommit({ make: 'lone' }, { em })]);
    await deliverAll(source(), worker());
    const [nul, lone] = await Promise.all(ids.map((id) => getTask(db.em.fork(), id)));
    expect(nul).toMatchObject({ status: TaskStatus.FAILED, result: null });
    expect(nul!.traceback).toMatch(/the task returned a value that cannot be stored: result\.text holds U\+0000 \(NUL\)/);
    expect(lone).toMatchObject({ status: TaskStatus.FAILED, result: null });
    expect(lone!.traceback).toMatch(/cannot be stored: result\.text holds a lone surrogate U\+DC00/);
    expect(await db.sql('select * from run_log where task_id in (?)', [ids])).toEqual([]); // rolled back
    expect(await account(db, ids)).toEqual({ lost: [], twice: [] });
  });

  it('an error message holding U+0000 and lone surrogates is recorded with U+FFFD in their place', async () => {
    const [id] = await enqueue(db, (em) => [badError.executeOnCommit({}, { em })]);
    await deliverAll(source(), worker());
    const row = await getTask(db.em.fork(), id);
    expect(row).toMatchObject({ status: TaskStatus.FAILED });
    expect(row!.traceback).toContain('Error: nul \uFFFD high \uFFFD low \uFFFD pair \u{1F600} end');
    expect(storable(row!.traceback!)).toBe(true);
    expect(await account(db, [id])).toEqual({ lost: [], twice: [] });
  });
});
