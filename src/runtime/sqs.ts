/**
 * Every SQS call of the runtime: send (batched), re-send, release (visibility 0), receive, delete
 * (batched), and the queue ARN ↔ URL lookups. Other modules never build SQS commands themselves.
 */
import type { Message, MessageAttributeValue, SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import { sqsSdk } from './aws-sdk';
import { mapWithConcurrency } from './concurrency';
import { configuredQueuesOrNone, getQueueSettings, getSqsClient } from './config';
import { MAX_MESSAGE_BYTES, MAX_SQS_DELAY_SECONDS, RESENDS_ATTRIBUTE } from './contract';
import { ConfigurationError, toError } from './errors';
import { libraryLog } from './logger';
import { encodeMessageBody, messageBytes } from './message';
import type { SqsRecordLike } from './types';

/** A committed task whose message is to be sent. */
export interface OutgoingTask {
  readonly id: string;
  readonly taskName: string;
  readonly kwargs: Record<string, unknown>;
  readonly queue: string;
  readonly runAfter: Date;
  /** The encoded body, when the producer already built it (it is encoded once per task). */
  readonly body?: string;
  /** Seconds until it is due by the database's clock (the relay's), used instead of `runAfter` and this process's clock. */
  readonly delaySeconds?: number;
}

/** What a send achieved: the ids sent, the ids that failed with their reason, and the ids not due yet. */
export interface SendOutcome {
  readonly sent: string[];
  readonly failed: { id: string; reason: string }[];
  /** Not sent: due more than 900 s from now (SQS's largest delay). The maintenance relay sends them when due. */
  readonly deferred: string[];
  /** The first error seen, for `TaskDispatchError.cause`. */
  readonly firstError?: unknown;
}

/** SendMessageBatch and DeleteMessageBatch take at most 10 entries. */
const MAX_BATCH_ENTRIES = 10;
/** Batches in flight at once. */
const SEND_CONCURRENCY = 8;

/** Whole seconds until `runAfter` (rounded up, so a message is never delivered early), 0 when it is due. */
export function delaySecondsUntil(runAfter: Date, now = Date.now()): number {
  return Math.max(0, Math.ceil((runAfter.getTime() - now) / 1000));
}

interface Entry { task: OutgoingTask; body: string; bytes: number }

/** Splits one queue's entries into SendMessageBatch requests of ≤10 entries and ≤1 MiB. */
export function chunkEntries<E extends { bytes: number }>(entries: readonly E[]): E[][] {
  const batches: E[][] = [];
  let current: E[] = [];
  let size = 0;
  for (const entry of entries) {
    if (current.length === MAX_BATCH_ENTRIES || (current.length > 0 && size + entry.bytes > MAX_MESSAGE_BYTES)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += entry.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Sends task messages grouped by queue with SendMessageBatch (≤10 entries, ≤1 MiB each),
 * several batches concurrently, checking every entry's result. Never throws: failures come back in `failed`.
 */
export async function sendTaskMessages(tasks: readonly OutgoingTask[], options: { readonly signal?: AbortSignal } = {}): Promise<SendOutcome> {
  const sent: string[] = [];
  const failed: { id: string; reason: string }[] = [];
  const deferred: string[] = [];
  let firstError: unknown;
  const byQueue = new Map<string, Entry[]>();
  const now = Date.now();
  for (const task of tasks) {
    // Never capped to 900 s (that would deliver it early): a task due later waits for the relay.
    if ((task.delaySeconds ?? delaySecondsUntil(task.runAfter, now)) > MAX_SQS_DELAY_SECONDS) {
      deferred.push(task.id);
      continue;
    }
    const body = task.body ?? encodeMessageBody({ task_id: task.id, task_name: task.taskName, kwargs: task.kwargs });
    const list = byQueue.get(task.queue) ?? [];
    list.push({ task, body, bytes: messageBytes(body) });
    byQueue.set(task.queue, list);
  }
  const requests: { url: string; entries: Entry[] }[] = [];
  for (const [queue, entries] of byQueue) {
    let url: string | undefined;
    try {
      url = getQueueSettings(queue).url;
      if (!url) throw new ConfigurationError(`queues.${queue}`, 'has no url');
    } catch (error) {
      firstError ??= error;
      for (const e of entries) failed.push({ id: e.task.id, reason: toError(error).message });
      continue;
    }
    for (const batch of chunkEntries(entries)) requests.push({ url, entries: batch });
  }
  const client = getSqsClient();
  await mapWithConcurrency(requests, SEND_CONCURRENCY, async ({ url, entries }) => {
    const sendNow = Date.now();
    const batchEntries: SendMessageBatchRequestEntry[] = entries.map((e) => ({
      Id: e.task.id,
      MessageBody: e.body,
      DelaySeconds: Math.min(MAX_SQS_DELAY_SECONDS, e.task.delaySeconds ?? delaySecondsUntil(e.task.runAfter, sendNow)),
    }));
    try {
      const response = await client.send(new (sqsSdk().SendMessageBatchCommand)({ QueueUrl: url, Entries: batchEntries }), { abortSignal: options.signal });
      const failedIds = new Set<string>();
      for (const f of response.Failed ?? []) {
        if (!f.Id) continue;
        failedIds.add(f.Id);
        failed.push({ id: f.Id, reason: `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`.trim() });
        firstError ??= new Error(`SendMessageBatch entry failed: ${f.Code ?? ''} ${f.Message ?? ''}`.trim());
      }
      for (const e of entries) if (!failedIds.has(e.task.id)) sent.push(e.task.id);
    } catch (error) {
      firstError ??= error;
      for (const e of entries) failed.push({ id: e.task.id, reason: toError(error).message });
    }
  });
  return { sent, failed, deferred, firstError };
}

/** Sends one message body to a queue with a delay (a dead letter returned to its queue). */
export async function sendMessage(queueUrl: string, body: string, delaySeconds: number): Promise<void> {
  await getSqsClient().send(new (sqsSdk().SendMessageCommand)({ QueueUrl: queueUrl, MessageBody: body, DelaySeconds: delaySeconds }));
}

/** Sends a message's body again, unchanged, with its other attributes and the re-send counter set to `resends`. */
export async function resendMessage(
  queueUrl: string,
  body: string,
  attributes: SqsRecordLike['messageAttributes'],
  resends: number,
): Promise<void> {
  const kept: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (name !== RESENDS_ATTRIBUTE && value.stringValue !== undefined) kept[name] = { DataType: value.dataType ?? 'String', StringValue: value.stringValue };
  }
  kept[RESENDS_ATTRIBUTE] = { DataType: 'Number', StringValue: String(resends) };
  await getSqsClient().send(new (sqsSdk().SendMessageCommand)({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: kept }));
}

/** The queue URL of an SQS ARN: the configured URL of that queue name, else the regional endpoint's. */
export function queueUrlOfArn(arn: string): string {
  const [, , , region, account, name] = arn.split(':');
  for (const settings of Object.values(configuredQueuesOrNone())) {
    for (const url of [settings.url, settings.dlqUrl]) if (url && url.endsWith(`/${account}/${name}`)) return url;
  }
  return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
}

/** The ARN of a queue, from its attributes (a local worker builds Lambda-like records with it). */
export async function queueArnOf(queueUrl: string, client: SQSClient = getSqsClient()): Promise<string> {
  const attributes = await client.send(new (sqsSdk().GetQueueAttributesCommand)({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return attributes.Attributes?.QueueArn ?? `arn:aws:sqs:local:000000000000:${queueUrl.split('/').pop()}`;
}

/** Makes failed messages visible at once, so the redrive to the DLQ is immediate rather than a visibility timeout later. */
export async function releaseMessages(records: readonly SqsRecordLike[]): Promise<void> {
  await Promise.all(
    records.map(async (record) => {
      try {
        const command = new (sqsSdk().ChangeMessageVisibilityCommand)({ QueueUrl: queueUrlOfArn(record.eventSourceARN), ReceiptHandle: record.receiptHandle, VisibilityTimeout: 0 });
        await getSqsClient().send(command);
      } catch (error) {
        libraryLog.warn('could not reset the visibility of a failed message; SQS will redeliver it after its visibility timeout', { messageId: record.messageId, error: toError(error).message });
      }
    }),
  );
}

/** Options of {@link receiveMessages}. */
export interface ReceiveOptions {
  /** At most this many messages (several receives of up to 10 until the queue answers none). */
  readonly max: number;
  readonly waitTimeSeconds?: number;
  readonly visibilityTimeout?: number;
  readonly signal?: AbortSignal;
  readonly client?: SQSClient;
}

/** Receives up to `max` messages with their attributes. */
export async function receiveMessages(queueUrl: string, options: ReceiveOptions): Promise<Message[]> {
  const client = options.client ?? getSqsClient();
  const messages: Message[] = [];
  while (messages.length < options.max) {
    const out = await client.send(
      new (sqsSdk().ReceiveMessageCommand)({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(MAX_BATCH_ENTRIES, options.max - messages.length),
        WaitTimeSeconds: options.waitTimeSeconds,
        VisibilityTimeout: options.visibilityTimeout,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
      { abortSignal: options.signal },
    );
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
    if (options.waitTimeSeconds !== undefined) break; // a (long) poll returns what it has; the caller polls again
  }
  return messages;
}

/** Deletes messages in DeleteMessageBatch requests of at most 10. */
export async function deleteMessages(queueUrl: string, messages: readonly Message[], client: SQSClient = getSqsClient()): Promise<void> {
  for (let i = 0; i < messages.length; i += MAX_BATCH_ENTRIES) {
    const entries = messages.slice(i, i + MAX_BATCH_ENTRIES).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! }));
    await client.send(new (sqsSdk().DeleteMessageBatchCommand)({ QueueUrl: queueUrl, Entries: entries }));
  }
}

/** An SQS record as the Lambda event source builds it from a received message. */
export function sqsRecordOf(message: Message, queueArn: string): SqsRecordLike & Record<string, unknown> {
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: message.Attributes ?? {},
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, { stringValue: value.StringValue, dataType: value.DataType ?? 'String' }]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] || 'local',
  };
}
