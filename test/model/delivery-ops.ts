// Operations of the event source and of maintenance: a batch of deliveries with its faults, and one tick.
import type { Message } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import fc from 'fast-check';
import { Client } from 'pg';
import type { Model, ModelCommand } from './enqueue-ops';
import { deliverBatch, forkOf, PLENTY_MS, receive, SHORT_MS, sleep, type ProgramState } from './harness';
import { cancelTask } from '../../src/runtime/cancel';
import { reconcileDeadLetters } from '../../src/runtime/dead-letters';
import { relayQueuedTasks } from '../../src/runtime/relay';
import { sweepLostTasks } from '../../src/runtime/sweep';

/** An operator's transaction that holds a row of the batch while it runs, released afterwards (or after `HOLD_MS`). */
export interface RowLock {
  readonly kind: 'uncommitted-cancel' | 'select-for-update';
  /**
   * Which message of the batch names the row: counted from the first one after the deliveries the lanes start with
   * (the next delivery of a lane, claimed with its task's SUCCESS), modulo the batch's size.
   */
  readonly index: number;
  /** How the operator's transaction ends. */
  readonly end: 'commit' | 'rollback';
}
const HOLD_MS = 3_000;

export interface DeliverOptions {
  readonly max: number;
  readonly concurrency: number;
  /** The same message (MessageId, receipt handle and body) twice in the batch: the copy of message `index`. */
  readonly duplicate?: number;
  /** A Lambda context with too little time left, so the worker re-sends instead of running. */
  readonly deadline: boolean;
  readonly lock?: RowLock;
}

const taskIdOf = (message: Message): string | undefined => {
  try {
    return (JSON.parse(message.Body ?? '') as { task_id?: string }).task_id;
  } catch {
    return undefined;
  }
};

/** Takes the lock as an operator would, on a connection of its own; returns how to end it. */
async function holdRow(state: ProgramState, lock: RowLock, taskId: string): Promise<(() => Promise<void>) | undefined> {
  if (lock.kind === 'select-for-update') {
    const client = new Client({ connectionString: state.env.db.url });
    await client.connect();
    await client.query('begin');
    await client.query('select 1 from "task_record" where "id" = $1 for update', [taskId]);
    return async () => {
      await client.query(lock.end).catch(() => undefined);
      await client.end();
    };
  }
  const em: EntityManager = forkOf(state);
  await em.begin();
  try {
    await cancelTask(em, taskId);
  } catch {
    await em.rollback();
    return undefined; // not QUEUED: nothing held
  }
  return async () => {
    if (lock.end === 'commit') await em.commit();
    else await em.rollback();
  };
}

export class DeliverCommand implements ModelCommand {
  public constructor(public readonly options: DeliverOptions) {}
  public check = (): boolean => true;

  public async run(_model: Model, state: ProgramState): Promise<void> {
    const { max, concurrency, duplicate, deadline, lock } = this.options;
    const messages = await receive(state, max, 1);
    if (messages.length === 0) {
      state.log.push(`${this.toString()} → nothing to receive`);
      return;
    }
    if (duplicate !== undefined) {
      const copy = messages[duplicate % messages.length];
      messages.splice((duplicate % messages.length) + 1, 0, copy);
    }
    const lockedId = lock && taskIdOf(messages[(concurrency + lock.index) % messages.length]);
    const release = lock && lockedId ? await holdRow(state, lock, lockedId) : undefined;
    const started = Date.now();
    const batch = deliverBatch(state, messages, { concurrency, remainingMs: deadline ? SHORT_MS : PLENTY_MS });
    try {
      if (release) await Promise.race([batch.catch(() => undefined), sleep(HOLD_MS)]);
    } finally {
      await release?.();
    }
    const response = await batch;
    state.log.push(`${this.toString()} → ${messages.length} messages${lockedId && release ? ` (held ${lockedId})` : ''}, ${response.batchItemFailures.length} failed, ${Date.now() - started} ms`);
  }

  public faults(): string[] {
    const { duplicate, deadline, lock } = this.options;
    return [duplicate !== undefined && 'duplicate', deadline && 'deadline', lock && 'lock', lock?.kind].filter((f): f is string => typeof f === 'string');
  }

  public toString(): string {
    const { max, concurrency, duplicate, deadline, lock } = this.options;
    const faults = [
      duplicate !== undefined && `message #${duplicate} twice`,
      deadline && 'deadline pressure',
      lock && `${lock.kind} of the row of message #${lock.index} after the first wave, then ${lock.end}`,
    ].filter(Boolean);
    return `deliver(up to ${max}, c${concurrency}${faults.length ? `, ${faults.join(', ')}` : ''})`;
  }
}

/** One maintenance step, with thresholds that make it act now. */
export type TickStep = 'relay' | 'sweep' | 'reconcile';

export async function runTick(state: ProgramState, step: TickStep): Promise<unknown> {
  const em = forkOf(state);
  if (step === 'relay') return relayQueuedTasks({ em, olderThanSeconds: 0 });
  if (step === 'sweep') return sweepLostTasks({ em, marginSeconds: 0 });
  return reconcileDeadLetters({ em });
}

export class TickCommand implements ModelCommand {
  public constructor(public readonly step: TickStep) {}
  public check = (): boolean => true;

  public async run(_model: Model, state: ProgramState): Promise<void> {
    state.log.push(`${this.toString()} → ${JSON.stringify(await runTick(state, this.step))}`);
  }

  public faults(): string[] {
    return ['tick'];
  }

  public toString(): string {
    return `tick(${this.step})`;
  }
}

export const deliverCommand: fc.Arbitrary<ModelCommand> = fc
  .record(
    {
      max: fc.integer({ min: 1, max: 10 }),
      concurrency: fc.integer({ min: 1, max: 4 }),
      duplicate: fc.nat(9),
      deadline: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
      lock: fc.record({
        kind: fc.constantFrom<RowLock['kind']>('uncommitted-cancel', 'select-for-update'),
        index: fc.nat(9),
        end: fc.constantFrom<RowLock['end']>('commit', 'rollback'),
      }),
    },
    { requiredKeys: ['max', 'concurrency', 'deadline'] },
  )
  .map((options) => new DeliverCommand(options));

export const tickCommand: fc.Arbitrary<ModelCommand> = fc.constantFrom<TickStep>('relay', 'sweep', 'reconcile').map((step) => new TickCommand(step));
