import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { configuredQueuesOrNone, getSqsClient } from './config';
import { DEFAULT_QUEUE_HARD_TIMEOUT_SECONDS, FUNCTION_TIMEOUT_MARGIN_SECONDS, MAX_TIMEOUT_SECONDS } from './contract';
import { toError } from './errors';
import type { TaskHandler } from './handler';
import { libraryLog } from './logger';
import { deleteMessages, queueArnOf, receiveMessages, sqsRecordOf } from './sqs';
import type { SqsBatchResponse } from './types';

/** Options of {@link runLocalWorker}. */
export interface LocalWorkerOptions {
  /** The handler made by `createHandler`. */
  readonly handler: TaskHandler;
  /** The queues to consume (fauxqs, LocalStack or real SQS). */
  readonly queueUrls: readonly string[];
  /**
   * The SQS client.
   * @default - the runtime's client (configureLambdaTasks' sqsClient, else the SDK's default chain)
   */
  readonly sqsClient?: SQSClient;
  /** Stops the worker: the current long poll is cancelled and the batch in hand finishes first. */
  readonly signal: AbortSignal;
  /**
   * Records per batch (1..10).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Long-poll wait, in seconds (0..20).
   * @default 20
   */
  readonly waitTimeSeconds?: number;
}

/** What a local worker did until it stopped. */
export interface LocalWorkerStats {
  batches: number;
  messages: number;
  failures: number;
}

/** The Lambda timeout a queue's worker would have: its maxHardTimeout (from LAMBDA_TASKS_QUEUES) + the function timeout margin. */
function functionTimeoutMs(queueUrl: string): number {
  const settings = Object.values(configuredQueuesOrNone()).find((q) => q.url === queueUrl);
  const hard = settings?.maxHardTimeout ?? DEFAULT_QUEUE_HARD_TIMEOUT_SECONDS;
  return Math.min(MAX_TIMEOUT_SECONDS, hard + FUNCTION_TIMEOUT_MARGIN_SECONDS) * 1000;
}

async function consume(options: LocalWorkerOptions, client: SQSClient, queueUrl: string, stats: LocalWorkerStats): Promise<void> {
  const queueArn = await queueArnOf(queueUrl, client);
  const timeoutMs = functionTimeoutMs(queueUrl);
  while (!options.signal.aborted) {
    let messages: Message[];
    try {
      messages = await receiveMessages(queueUrl, {
        max: Math.min(10, Math.max(1, options.batchSize ?? 10)),
        waitTimeSeconds: options.waitTimeSeconds ?? 20,
        signal: options.signal,
        client,
      });
    } catch (error) {
      if (options.signal.aborted) return;
      libraryLog.error('local worker: receive failed; retrying in 1 s', { queueUrl, error: toError(error).message });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    if (messages.length === 0) continue;
    const deadline = Date.now() + timeoutMs;
    let failed = new Set<string>(messages.map((m) => m.MessageId!));
    try {
      const event = { Records: messages.map((m) => sqsRecordOf(m, queueArn)) };
      const response = (await options.handler(event, { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) })) as SqsBatchResponse;
      failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    } catch (error) {
      // Like the Lambda event source: a handler that throws leaves the whole batch for the redrive policy.
      libraryLog.error('local worker: the handler threw; the batch goes back to the queue', { queueUrl, error: toError(error).message });
    }
    const processed = messages.filter((m) => !failed.has(m.MessageId!));
    await deleteMessages(queueUrl, processed, client);
    stats.batches++;
    stats.messages += messages.length;
    stats.failures += failed.size;
  }
}

/**
 * Runs a worker on your machine with the Lambda event source's semantics: long-polls the queues, hands
 * each batch to the handler as a real SQS event with a Lambda-like context (remaining time from the
 * queue's hard timeout + 30 s), deletes what was processed and leaves `batchItemFailures` to the redrive
 * policy. Resolves with its counts when `signal` aborts.
 *
 * @example
 * import { createHandler, runLocalWorker } from 'cdk-lambda-tasks/runtime';
 * const controller = new AbortController();
 * process.once('SIGINT', () => controller.abort());
 * await runLocalWorker({ handler: createHandler({ tasks, ormConfig }), queueUrls: [process.env.TASKS_QUEUE_URL!], signal: controller.signal });
 */
export async function runLocalWorker(options: LocalWorkerOptions): Promise<LocalWorkerStats> {
  const client = options.sqsClient ?? getSqsClient();
  const stats: LocalWorkerStats = { batches: 0, messages: 0, failures: 0 };
  await Promise.all(options.queueUrls.map((url) => consume(options, client, url, stats)));
  return stats;
}
