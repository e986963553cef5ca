// Operations of an app: enqueue in and out of transactions, in a savepoint that rolls back, a caller that
// rolls back, with idempotency keys and delays; and messages other producers (or an attacker) put on the queue.
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import fc from 'fast-check';
import { forkOf, rowsOf, type ProgramState } from './harness';
import { modelWork, TASK_MODES, type TaskMode } from './tasks';
import { cancelTask } from '../../src/runtime/cancel';

/** The model fast-check keeps beside the real system: only what the commands' preconditions need. */
export interface Model {
  enqueued: number;
}

/** A command, and the faults it uses (so a run can leave out those whose defect is known: `MODEL_EXCLUDE`). */
export interface ModelCommand extends fc.AsyncCommand<Model, ProgramState, boolean> {
  faults(): string[];
}

/** How long a caller may wait for its commit to settle (I4): fauxqs answers at once, the library's bound is larger. */
const CALLER_BOUND_MS = 10_000;

export interface Invocation {
  readonly mode: TaskMode;
  readonly ms: number;
  readonly delay: number;
  readonly key?: string;
}
/** Where the caller enqueues; `cancel-before-flush` cancels its first invocation in the same transaction before any flush. */
export type EnqueueScope = 'flush' | 'transaction' | 'savepoint-rollback' | 'caller-rollback' | 'cancel-before-flush';

class CallerRollback extends Error {}

/** An operator's or the app's own cancel of a task it enqueued a moment ago in the same transaction (I5: it sees the buffered row). */
async function cancelBeforeFlush(state: ProgramState, em: EntityManager, id: string, keyed: boolean): Promise<void> {
  try {
    state.cancelled.add(await cancelTask(em, id));
  } catch (error) {
    // A key already taken returns the existing task's id, which may have run meanwhile: refusing that is right.
    if (keyed && (error as Error).name === 'TaskStateError') return;
    state.violations.push(`I5: cancelTask of ${id}, enqueued earlier in the same transaction and not flushed yet, was refused: ${(error as Error).message}`);
  }
}

const show = (i: Invocation) => `${i.mode}${i.ms ? `:${i.ms}ms` : ''}${i.delay ? `+${i.delay}s` : ''}${i.key ? `#${i.key}` : ''}`;

/** Enqueues invocations like an app, and checks the caller's side (I4): the promise settles in time, as asked. */
export class EnqueueCommand implements ModelCommand {
  public constructor(public readonly scope: EnqueueScope, public readonly invocations: readonly Invocation[]) {}
  public check = (): boolean => true;

  public async run(model: Model, state: ProgramState): Promise<void> {
    model.enqueued += this.invocations.length;
    const kept: string[] = [];
    const dropped: string[] = [];
    const send = async (em: EntityManager, i: Invocation): Promise<string> => {
      const args = { mode: i.mode, ms: i.ms };
      return i.key ? modelWork.executeOnCommitOnce(args, { em, key: i.key, delay: i.delay }) : modelWork.executeOnCommit(args, { em, delay: i.delay });
    };
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => {
      const fork = forkOf(state);
      if (this.scope === 'flush') {
        for (const i of this.invocations) kept.push(await send(fork, i));
        await fork.flush();
        return;
      }
      await fork.transactional(async (em) => {
        const [first, ...rest] = this.invocations;
        const outer = this.scope === 'savepoint-rollback' ? [first] : this.invocations;
        for (const i of outer) (this.scope === 'caller-rollback' ? dropped : kept).push(await send(em as EntityManager, i));
        if (this.scope === 'cancel-before-flush') await cancelBeforeFlush(state, em as EntityManager, kept[0], first.key !== undefined);
        await em.flush();
        if (this.scope === 'savepoint-rollback' && rest.length > 0) {
          await em.transactional(async (sp) => {
            for (const i of rest) dropped.push(await send(sp as EntityManager, i));
            await sp.flush();
            throw new CallerRollback('the savepoint rolls back');
          }).catch((error: unknown) => {
            if (!(error instanceof CallerRollback)) throw error;
          });
        }
        if (this.scope === 'caller-rollback') throw new CallerRollback('the caller rolls back');
      });
    })();
    const outcome = await Promise.race([
      work.then(() => 'resolved', (error: unknown) => error),
      new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), CALLER_BOUND_MS))),
    ]);
    clearTimeout(timer);
    const elapsed = Date.now() - started;
    const asked = this.scope === 'caller-rollback';
    if (outcome === 'timeout') {
      state.violations.push(`I4: ${this.toString()}: the caller's promise did not settle within ${CALLER_BOUND_MS} ms`);
    } else if (outcome === 'resolved' && asked) {
      state.violations.push(`I4: ${this.toString()}: the caller's rollback did not reject`);
    } else if (outcome !== 'resolved' && !(outcome instanceof CallerRollback && asked)) {
      state.violations.push(`I4: ${this.toString()}: the caller's promise rejected with ${String((outcome as Error)?.stack ?? outcome)}`);
    }
    for (const id of kept) state.committed.add(id);
    for (const id of dropped) if (!state.committed.has(id)) state.rolledBack.add(id);
    state.log.push(`${this.toString()} → kept ${kept.length}, rolled back ${dropped.length} (${elapsed} ms)`);
  }

  public faults(): string[] {
    return [this.scope, ...this.invocations.flatMap((i) => [i.mode, i.key ? 'key' : '', i.delay ? 'delay' : ''])].filter(Boolean);
  }

  public toString(): string {
    return `enqueue(${this.scope}, [${this.invocations.map(show).join(', ')}])`;
  }
}

export type InjectedKind = 'no-task-id' | 'forged-name' | 'unknown-task' | 'missing-row' | 'copy';

/**
 * A message put on the queue by someone else: the seed's body without `task_id`, a body that names another task
 * than its row, an unknown task, a row that does not exist, or a second copy of a row's own body (SQS delivers at
 * least once). `target` picks the row among those of the program, at run time.
 */
export class InjectCommand implements ModelCommand {
  public constructor(public readonly kind: InjectedKind, public readonly mode: TaskMode, public readonly target: number) {}
  public check = (): boolean => true;

  public async run(_model: Model, state: ProgramState): Promise<void> {
    const rows = (await rowsOf(state)).filter((r) => r.task_name === 'model.work');
    const row = rows.length > 0 ? rows[this.target % rows.length] : undefined;
    const kwargs = { mode: this.mode, ms: 50 };
    let body: Record<string, unknown> | undefined;
    switch (this.kind) {
      case 'no-task-id': body = { task_name: 'model.work', kwargs }; break;
      case 'forged-name': body = row && { task_id: row.id, task_name: 'model.other', kwargs: {} }; break;
      case 'unknown-task': body = { task_id: row?.id ?? randomUUID(), task_name: 'model.nope', kwargs: {} }; break;
      case 'missing-row': body = { task_id: randomUUID(), task_name: 'model.work', kwargs }; break;
      case 'copy': body = row && { task_id: row.id, task_name: row.task_name, kwargs: row.kwargs }; break;
    }
    if (!body) {
      state.log.push(`${this.toString()} → no row to name`);
      return;
    }
    await state.env.fauxqs.client.send(new SendMessageCommand({ QueueUrl: state.queue.url, MessageBody: JSON.stringify(body) }));
    state.log.push(`${this.toString()} → ${JSON.stringify(body)}`);
  }

  public faults(): string[] {
    return [this.kind, this.kind === 'no-task-id' || this.kind === 'missing-row' ? this.mode : ''].filter(Boolean);
  }

  public toString(): string {
    return `inject(${this.kind}${this.kind === 'no-task-id' || this.kind === 'missing-row' ? `, ${this.mode}` : ''}${['forged-name', 'copy', 'unknown-task'].includes(this.kind) ? `, row #${this.target}` : ''})`;
  }
}

export const invocation: fc.Arbitrary<Invocation> = fc.record(
  {
    mode: fc.constantFrom(...TASK_MODES, 'ok', 'ok'),
    ms: fc.constantFrom(0, 50, 300, 600),
    delay: fc.constantFrom(0, 0, 0, 1),
    // One invocation in four has an idempotency key; equal keys make one row.
    key: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('k1', 'k2', 'k3') }),
  },
);

export const enqueueCommand: fc.Arbitrary<ModelCommand> = fc
  .tuple(fc.constantFrom<EnqueueScope>('flush', 'transaction', 'transaction', 'savepoint-rollback', 'caller-rollback', 'cancel-before-flush'), fc.array(invocation, { minLength: 1, maxLength: 4 }))
  .map(([scope, invocations]) => new EnqueueCommand(scope, invocations));

export const injectCommand: fc.Arbitrary<ModelCommand> = fc
  .tuple(fc.constantFrom<InjectedKind>('no-task-id', 'forged-name', 'unknown-task', 'missing-row', 'copy'), fc.constantFrom<TaskMode>('ok', 'throw', 'hang'), fc.nat(9))
  .map(([kind, mode, target]) => new InjectCommand(kind, mode, target));
