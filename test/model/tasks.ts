// The tasks the model's programs run, and the ledger that counts their runs outside every transaction.
import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { z } from 'zod';
import { lambdaTask } from '../../src/runtime/lambda-task';

/** What a task does: return, throw, or outlive its hard timeout (plainly, or inside a savepoint). */
export type TaskMode = 'ok' | 'throw' | 'hang' | 'hang-savepoint';
export const TASK_MODES: readonly TaskMode[] = ['ok', 'throw', 'hang', 'hang-savepoint'];

/** The error a `throw` task raises: the only FAILED reason its row may carry besides a deadline. */
export class ModelTaskError extends Error {
  public constructor(taskId: string) {
    super(`model task ${taskId} failed on purpose`);
    this.name = 'ModelTaskError';
  }
}
export const OWN_ERROR = /ModelTaskError: model task [0-9a-f-]+ failed on purpose/;

/** Seconds: short, so that a program with hard timeouts stays fast. */
export const SOFT_TIMEOUT = 1;
export const HARD_TIMEOUT = 2;
/** How long a hanging task waits: past its hard timeout. */
export const HANG_MS = HARD_TIMEOUT * 1000 + 1500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every run of a task function, counted twice outside every transaction: in this process, and as a row
 * written on a connection of its own (autocommit), so a rolled-back run is still counted.
 */
export class RunLedger {
  public readonly starts = new Map<string, number>();
  public readonly returned = new Set<string>();
  public active = 0;
  private client: Client | undefined;

  public async open(url: string): Promise<void> {
    this.client = new Client({ connectionString: url });
    await this.client.connect();
    await this.client.query('create table if not exists "model_effect" ("id" serial primary key, "task_id" text not null)');
    await this.client.query('create table if not exists "model_write" ("id" serial primary key, "task_id" text not null, "note" text)');
  }

  public async close(): Promise<void> {
    await this.client?.end();
    this.client = undefined;
  }

  public reset(): void {
    this.starts.clear();
    this.returned.clear();
  }

  public async started(taskId: string): Promise<void> {
    this.starts.set(taskId, (this.starts.get(taskId) ?? 0) + 1);
    await this.client!.query('insert into "model_effect" ("task_id") values ($1)', [taskId]);
  }

  /** Resolves once no task function is running any more (abandoned runs included), or after `timeoutMs`. */
  public async idle(timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.active > 0) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }
}

export const ledger = new RunLedger();

const writeRow = (em: EntityManager, taskId: string, note: string | null) =>
  em.execute('insert into "model_write" ("task_id", "note") values (?, ?)', [taskId, note]);

/** Works for `ms` in steps of 200 ms, each a query on the task's transaction (as a task that reads as it goes). */
async function workInSteps(em: EntityManager, ms: number): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until;) {
    await sleep(200);
    await em.execute('select 1');
  }
}

/** The task of every program: logs its run, writes a row in its own transaction, then does what `mode` says. */
export const modelWork = lambdaTask(
  {
    name: 'model.work',
    args: z.object({ mode: z.enum(['ok', 'throw', 'hang', 'hang-savepoint']), ms: z.number().int().min(0).max(1000) }),
    softTimeout: SOFT_TIMEOUT,
    hardTimeout: HARD_TIMEOUT,
  },
  async ({ mode, ms }, ctx) => {
    const taskId = ctx.taskId ?? 'direct';
    ledger.active++;
    try {
      await ledger.started(taskId);
      const em = ctx.em as EntityManager;
      await writeRow(em, taskId, null);
      if (mode === 'hang-savepoint') {
        await em.transactional(async (sp) => {
          await writeRow(sp as EntityManager, taskId, 'savepoint');
          await workInSteps(sp as EntityManager, HANG_MS);
        });
      } else if (mode === 'hang') {
        await workInSteps(em, HANG_MS);
      } else {
        await sleep(ms);
      }
      if (mode === 'throw') throw new ModelTaskError(taskId);
      ledger.returned.add(taskId);
      return 'done';
    } finally {
      ledger.active--;
    }
  },
);

/** A second task on the worker: forged messages name it for rows of `model.work`. */
export const modelOther = lambdaTask({ name: 'model.other', args: z.object({}) }, async () => 'other');

export const MODEL_TASKS = [modelWork, modelOther];
