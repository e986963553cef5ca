/**
 * The three ways to enqueue an invocation: `executeOnCommit` (into the caller's unit of work),
 * `executeOnCommitOnce` (idempotent, inserted at once) and `serialize` (JSON to enqueue later).
 */
import type { EntityManager } from '@mikro-orm/core';
import { checkDelay, checkRunAfter } from './arguments';
import { MAX_MESSAGE_BYTES } from './contract';
import { assertLambdaTasksConfigured, resolveEntityManager } from './entity-manager';
import { IdempotencyKeyConflictError, TaskValidationError } from './errors';
import { encodeMessageBody, messageBytes, type SerializedInvocation } from './message';
import { addUnflushedTask, findDispatchSubscriber, rememberEncodedBody } from './outbox';
import { TaskRecord, TaskStatus } from './record';
import { insertQueuedOnce } from './records/insert-queued-once';
import { newTaskRow, type NewTaskRow } from './records/row';
import type { RegisteredTask } from './registry';
import type { ExecuteOnCommitOnceOptions, ExecuteOnCommitOptions } from './task-types';

/** A validated invocation: its new row and its encoded message body. */
interface PreparedInvocation {
  readonly row: NewTaskRow;
  readonly body: string;
}

/** Everything executeOnCommit, executeOnCommitOnce and serialize check before any write. */
function prepareInvocation(task: RegisteredTask, args: unknown, runAfter: Date, idempotencyKey?: string): PreparedInvocation {
  const { input } = task.validate(args);
  const { hardTimeout } = task.resolveTimeouts(); // also checks the queue exists
  const row = newTaskRow({ taskName: task.name, kwargs: input, queue: task.queue, hardTimeout, runAfter, idempotencyKey });
  const body = encodeMessageBody({ task_id: row.id, task_name: task.name, kwargs: input });
  const bytes = messageBytes(body);
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new TaskValidationError(task.name, 'args', `the message would be ${bytes} bytes; SQS takes at most ${MAX_MESSAGE_BYTES}: store large data elsewhere and pass its key`);
  }
  return { row, body };
}

/**
 * Validates and adds a QUEUED row to what the em's next flush writes (inside a transaction: one multi-row
 * INSERT at that flush; outside one: a `TaskRecord` in its unit of work); returns its id.
 */
export function executeOnCommit(task: RegisteredTask, args: unknown, options: ExecuteOnCommitOptions = {}): string {
  const caller = `${task.name}.executeOnCommit()`;
  const { row, body } = prepareInvocation(task, args, checkRunAfter(task.name, options.delay, options.runAt));
  const em = resolveEntityManager(options.em, caller);
  assertLambdaTasksConfigured(em, caller);
  const context = em.getContext();
  if (context.isInTransaction()) {
    addUnflushedTask(context, { row, enqueuedAt: new Date(), body }); // written by its next flush, in one INSERT with the others
    return row.id;
  }
  const record = Object.assign(new TaskRecord(), { ...row, status: TaskStatus.QUEUED, enqueuedAt: new Date(), dispatchedAt: null });
  rememberEncodedBody(record, body);
  em.persist(record);
  return row.id;
}

/** Inserts a QUEUED row at once unless the key is taken; returns the new id or the existing row's. */
export async function executeOnCommitOnce(task: RegisteredTask, args: unknown, options: ExecuteOnCommitOnceOptions): Promise<string> {
  const caller = `${task.name}.executeOnCommitOnce()`;
  if (typeof options?.key !== 'string' || options.key.length === 0 || options.key.length > 255) {
    throw new TaskValidationError(task.name, 'key', 'executeOnCommitOnce needs { key }: a non-empty string of at most 255 characters');
  }
  const { row, body } = prepareInvocation(task, args, checkRunAfter(task.name, options.delay, options.runAt), options.key);
  const em: EntityManager = resolveEntityManager(options.em, caller);
  assertLambdaTasksConfigured(em, caller);
  const { id, created, taskName } = await insertQueuedOnce(em, row);
  if (taskName !== task.name) throw new IdempotencyKeyConflictError(options.key, taskName, task.name);
  if (created) await findDispatchSubscriber(em).registerInserted(em, [{ ...row, body }]);
  return id;
}

/** Validates like executeOnCommit and returns the invocation as JSON. */
export function serializeInvocation(task: RegisteredTask, args: unknown, options: { readonly delay?: number } = {}): SerializedInvocation {
  const delay = checkDelay(task.name, options.delay); // sent by the caller: within SQS's 900 s
  const { row } = prepareInvocation(task, args, new Date(Date.now() + delay * 1000));
  return { message: { task_name: task.name, kwargs: row.kwargs }, delay, queue: task.queue };
}
