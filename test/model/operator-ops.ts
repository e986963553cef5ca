// Operations of an operator: cancel a task, and retry one by two operators at once under an isolation level.
import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import fc from 'fast-check';
import type { Model, ModelCommand } from './enqueue-ops';
import { forkOf, rowsOf, type ProgramState, type RowState } from './harness';
import { cancelTask } from '../../src/runtime/cancel';
import { retryTask } from '../../src/runtime/replay';

export type Isolation = 'none' | 'read committed' | 'repeatable read' | 'serializable';
const LEVELS: Record<Exclude<Isolation, 'none'>, IsolationLevel> = {
  'read committed': IsolationLevel.READ_COMMITTED,
  'repeatable read': IsolationLevel.REPEATABLE_READ,
  'serializable': IsolationLevel.SERIALIZABLE,
};

/** Runs `fn` as an operator would: on a fresh fork, in a transaction of the given isolation level, or in none. */
async function asOperator<T>(state: ProgramState, isolation: Isolation, fn: (em: EntityManager) => Promise<T>): Promise<T> {
  const fork = forkOf(state);
  if (isolation === 'none') return fn(fork);
  return fork.transactional((em) => fn(em as EntityManager), { isolationLevel: LEVELS[isolation] });
}

const isStateError = (error: unknown): boolean => (error as Error | undefined)?.name === 'TaskStateError';
const describeError = (error: unknown): string => String((error as Error)?.stack ?? error).split('\n').slice(0, 3).join(' | ');

/** The `target`-th row (modulo) among those that match, else among all rows; undefined when there are none. */
function pick(rows: readonly RowState[], target: number, wanted: (row: RowState) => boolean): RowState | undefined {
  const matching = rows.filter(wanted);
  const pool = matching.length > 0 ? matching : rows;
  return pool.length > 0 ? pool[target % pool.length] : undefined;
}

/** Cancels a task (preferably a QUEUED one). Allowed outcomes: the id of the cancelled row, or TaskStateError (I5). */
export class CancelCommand implements ModelCommand {
  public constructor(public readonly isolation: Isolation, public readonly target: number) {}
  public check = (): boolean => true;

  public async run(_model: Model, state: ProgramState): Promise<void> {
    const row = pick(await rowsOf(state), this.target, (r) => r.status === 'QUEUED');
    if (!row) return void state.log.push(`${this.toString()} → no row`);
    try {
      const id = await asOperator(state, this.isolation, (em) => cancelTask(em, row.id));
      state.cancelled.add(id);
      state.log.push(`${this.toString()} → cancelled ${id} (was ${row.status})`);
    } catch (error) {
      if (!isStateError(error)) state.violations.push(`I5: ${this.toString()} of ${row.id}: not a TaskStateError: ${describeError(error)}`);
      state.log.push(`${this.toString()} → refused: ${(error as Error).message}`);
    }
  }

  public faults(): string[] {
    return ['cancel'];
  }

  public toString(): string {
    return `cancel(${this.isolation}, row #${this.target})`;
  }
}

/**
 * Two operators retry the same task at once (preferably a FAILED or CANCELLED one). Linearizable (I5): at most one
 * new attempt, and the other operator gets TaskStateError.
 */
export class RetryTwiceCommand implements ModelCommand {
  public constructor(public readonly isolation: Isolation, public readonly target: number) {}
  public check = (): boolean => true;

  public async run(_model: Model, state: ProgramState): Promise<void> {
    const rows = await rowsOf(state);
    const latest = new Map<string, number>();
    for (const r of rows) latest.set(r.root_id, Math.max(latest.get(r.root_id) ?? 0, r.attempt));
    const row = pick(rows, this.target, (r) => (r.status === 'FAILED' || r.status === 'CANCELLED') && latest.get(r.root_id) === r.attempt);
    if (!row) return void state.log.push(`${this.toString()} → no row`);
    const outcomes = await Promise.allSettled([0, 1].map(() => asOperator(state, this.isolation, (em) => retryTask(em, row.id))));
    const made = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    for (const o of outcomes) {
      if (o.status === 'rejected' && !isStateError(o.reason)) state.violations.push(`I5: ${this.toString()} of ${row.id} (${row.status}): an operator got ${describeError(o.reason)}, not TaskStateError`);
    }
    if (made.length > 1) state.violations.push(`I5: ${this.toString()} of ${row.id} (${row.status}, attempt ${row.attempt}): both operators made a new attempt (${made.join(', ')})`);
    for (const id of made) state.committed.add(id);
    state.log.push(`${this.toString()} of ${row.id} (${row.status}) → ${made.length} new attempt(s)`);
  }

  public faults(): string[] {
    return ['retry'];
  }

  public toString(): string {
    return `retryTwice(${this.isolation}, row #${this.target})`;
  }
}

const isolation = fc.constantFrom<Isolation>('none', 'read committed', 'repeatable read', 'serializable');
export const cancelCommand: fc.Arbitrary<ModelCommand> = fc.tuple(isolation, fc.nat(9)).map(([i, t]) => new CancelCommand(i, t));
export const retryCommand: fc.Arbitrary<ModelCommand> = fc.tuple(isolation, fc.nat(9)).map(([i, t]) => new RetryTwiceCommand(i, t));
