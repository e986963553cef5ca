// Enqueueing like an app and delivering like the Lambda event source, for the tests that run tasks through fauxqs.
import type { Message } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TestDatabase } from './database';
import { lambdaContext, sqsEvent } from './events';
import type { WorkerEnvironment } from './worker-environment';
import type { TaskHandler } from '../../src/runtime/handler';
import type { SqsBatchResponse } from '../../src/runtime/types';

/** Where deliveries come from: fauxqs and the queue the tasks are sent to. */
export type DeliverySource = Pick<WorkerEnvironment, 'fauxqs' | 'queue'>;

/** One delivery: the messages handed to the handler and what it answered. */
export interface Delivery {
  readonly messages: Message[];
  readonly response: SqsBatchResponse;
}

/**
 * Enqueues like an app: runs `send` (its `executeOnCommit` calls, and any flushes) in a transaction of a
 * fresh fork; the commit writes the rows and sends the messages. Resolves, after the commit, to what
 * `send` returned (the task ids).
 */
export async function enqueue<T>(db: Pick<TestDatabase, 'orm'>, send: (em: EntityManager) => T | Promise<T>): Promise<T> {
  return (db.orm.em.fork() as EntityManager).transactional(async (em) => send(em as EntityManager));
}

/** Receives until `count` messages are in hand (never more), or `timeoutMs` have passed; returns what it got. */
export async function receiveMessages(source: DeliverySource, count: number, options: { timeoutMs?: number } = {}): Promise<Message[]> {
  const messages: Message[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (messages.length < count && Date.now() < deadline) {
    messages.push(...(await source.fauxqs.receive(source.queue.url, { waitSeconds: 1, max: count - messages.length })));
  }
  return messages;
}

/**
 * Delivers like the Lambda event source: hands `messages` (default: what one receive, long-polling 1 s,
 * finds on the queue) to `handle` as one SQS event, with a context of `remainingMs` (default 900 s), then
 * deletes the messages it processed: all but those it reported in `batchItemFailures`.
 */
export async function deliver(
  source: DeliverySource,
  handle: TaskHandler,
  options: { messages?: Message[]; remainingMs?: number } = {},
): Promise<Delivery> {
  const messages = options.messages ?? (await source.fauxqs.receive(source.queue.url, { waitSeconds: 1 }));
  const response = (await handle(sqsEvent(messages, source.queue.arn), lambdaContext({ remainingMs: options.remainingMs }))) as SqsBatchResponse;
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  await source.fauxqs.deleteMessages(source.queue.url, messages.filter((m) => !failed.has(m.MessageId!)));
  return { messages, response };
}

/**
 * Plays the event source for a while: receives (long-polling 1 s) and {@link deliver}s batch after batch
 * until `until()` holds, or a receive comes back empty once `waitMs` have passed (default 0: the first
 * empty receive ends it; more waits out delayed messages and retries).
 */
export async function deliverAll(source: DeliverySource, handle: TaskHandler, options: { until?: () => Promise<boolean>; waitMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  while (!(await options.until?.())) {
    const messages = await source.fauxqs.receive(source.queue.url, { waitSeconds: 1 });
    if (messages.length > 0) await deliver(source, handle, { messages });
    else if (Date.now() >= deadline) return;
  }
}
