import { SendMessageBatchCommand, SendMessageCommand, type MessageAttributeValue, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { mapWithConcurrency } from './concurrency';
import { getQueueSettings, getSqsClient, MAX_TIMEOUT_SECONDS } from './config';
import { ConfigurationError } from './errors';
import { encodeMessageBody, MAX_MESSAGE_BYTES, messageBytes, RESENDS_ATTRIBUTE } from './message';

/** A committed task whose message is to be sent. */
export interface OutgoingTask {
  readonly id: string;
  readonly taskName: string;
  readonly kwargs: Record<string, unknown>;
  readonly queue: string;
  readonly runAfter: Date;
}

/** What a send achieved: the ids sent, and the ids that failed with their reason. */
export interface SendOutcome {
  readonly sent: string[];
  readonly failed: { id: string; reason: string }[];
  /** The first error seen, for `TaskDispatchError.cause`. */
  readonly firstError?: unknown;
}

/** SendMessageBatch takes at most 10 entries. */
const MAX_BATCH_ENTRIES = 10;
/** Batches in flight at once. */
const SEND_CONCURRENCY = 8;

/** Seconds until `runAfter`, as SQS DelaySeconds (0..900). */
export function delaySecondsUntil(runAfter: Date, now = Date.now()): number {
  return Math.min(MAX_TIMEOUT_SECONDS, Math.max(0, Math.ceil((runAfter.getTime() - now) / 1000)));
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
export async function sendTaskMessages(tasks: readonly OutgoingTask[]): Promise<SendOutcome> {
  const sent: string[] = [];
  const failed: { id: string; reason: string }[] = [];
  let firstError: unknown;
  const byQueue = new Map<string, Entry[]>();
  for (const task of tasks) {
    const body = encodeMessageBody({ task_id: task.id, task_name: task.taskName, kwargs: task.kwargs });
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
      for (const e of entries) failed.push({ id: e.task.id, reason: (error as Error).message });
      continue;
    }
    for (const batch of chunkEntries(entries)) requests.push({ url, entries: batch });
  }
  const client = getSqsClient();
  await mapWithConcurrency(requests, SEND_CONCURRENCY, async ({ url, entries }) => {
    const now = Date.now();
    const batchEntries: SendMessageBatchRequestEntry[] = entries.map((e) => ({
      Id: e.task.id,
      MessageBody: e.body,
      DelaySeconds: delaySecondsUntil(e.task.runAfter, now),
    }));
    try {
      const response = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: batchEntries }));
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
      for (const e of entries) failed.push({ id: e.task.id, reason: (error as Error)?.message ?? String(error) });
    }
  });
  return { sent, failed, firstError };
}

/** Sends a message's body again, unchanged, with its other attributes and the re-send counter set to `resends`. */
export async function resendMessage(
  queueUrl: string,
  body: string,
  attributes: Readonly<Record<string, { readonly stringValue?: string; readonly dataType?: string }>> | undefined,
  resends: number,
): Promise<void> {
  const kept: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (name !== RESENDS_ATTRIBUTE && value.stringValue !== undefined) kept[name] = { DataType: value.dataType ?? 'String', StringValue: value.stringValue };
  }
  kept[RESENDS_ATTRIBUTE] = { DataType: 'Number', StringValue: String(resends) };
  await getSqsClient().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: kept }));
}
