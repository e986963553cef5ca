import type { Message } from '@aws-sdk/client-sqs';
import type { EntityManager } from '@mikro-orm/core';
import { getLambdaTasksConfig } from './config';
import { MAX_SQS_DELAY_SECONDS } from './contract';
import { libraryLog } from './logger';
import { bodyNamingRow, decodeMessageBody } from './message';
import { TaskStatus, TERMINAL_STATUSES } from './record';
import { findRows } from './records/find-rows';
import { findTask } from './registry';
import { delaySecondsUntil, deleteMessages, receiveMessages, sendMessage } from './sqs';

/** Options of {@link reconcileDeadLetters}. */
export interface ReconcileOptions {
  /** The EntityManager to read the rows with. */
  readonly em: EntityManager;
  /**
   * Queue names whose DLQs to read.
   * @default - every configured queue with a dlqUrl
   */
  readonly queues?: readonly string[];
  /**
   * Messages read per DLQ per run.
   * @default 100
   */
  readonly maxMessages?: number;
}

/** What reconciliation did, and why it kept what it kept. */
export interface ReconcileResult {
  readonly resent: number;
  readonly deleted: number;
  readonly kept: { readonly malformed: number; readonly unknownTask: number; readonly noRow: number; readonly taskMismatch: number; readonly running: number };
}

/**
 * Reads the dead-letter queues and settles what it can: a message whose row is still QUEUED (it
 * reached the DLQ without being run: a throttled or failed invocation) is re-sent to its queue and
 * deleted; one whose row is terminal is deleted. Malformed messages, unknown tasks, messages without
 * a row, and rows still RUNNING are kept for a person (see docs/dead-letter-queues.md) and counted in one log line.
 */
export async function reconcileDeadLetters(options: ReconcileOptions): Promise<ReconcileResult> {
  const { queues } = getLambdaTasksConfig();
  const names = options.queues ?? Object.keys(queues).filter((name) => queues[name].dlqUrl);
  const result = { resent: 0, deleted: 0, kept: { malformed: 0, unknownTask: 0, noRow: 0, taskMismatch: 0, running: 0 } };
  for (const name of names) {
    const dlqUrl = queues[name]?.dlqUrl;
    if (!dlqUrl) continue;
    const messages = await receiveMessages(dlqUrl, { max: options.maxMessages ?? 100, visibilityTimeout: 300 });
    const decoded = messages.map((message) => ({ message, decoded: decodeMessageBody(message.Body ?? '') }));
    const idOf = (message: Message, body: { task_id?: string }) => (body.task_id ?? message.MessageId!).toLowerCase();
    const ids = decoded.flatMap(({ message, decoded: d }) => (d.ok ? [idOf(message, d.body)] : []));
    const rows = await findRows(options.em, ids);
    const settled: Message[] = [];
    for (const { message, decoded: d } of decoded) {
      if (!d.ok) {
        result.kept.malformed++;
        continue;
      }
      if (!findTask(d.body.task_name)) {
        result.kept.unknownTask++;
        continue;
      }
      const row = rows.get(idOf(message, d.body));
      if (!row) {
        result.kept.noRow++;
      } else if (row.task_name !== d.body.task_name) {
        result.kept.taskMismatch++; // the message names another task than its row: never re-sent
      } else if (row.status === TaskStatus.QUEUED) {
        const url = queues[row.queue]?.url;
        if (!url) {
          result.kept.unknownTask++;
          continue;
        }
        // A dead letter of a QUEUED row was due when it was sent: at most SQS's largest delay is left.
        await sendMessage(url, bodyNamingRow(message.Body ?? '', d.body, idOf(message, d.body)), Math.min(MAX_SQS_DELAY_SECONDS, delaySecondsUntil(new Date(row.run_after))));
        result.resent++;
        settled.push(message);
      } else if (TERMINAL_STATUSES.includes(row.status)) {
        result.deleted++;
        settled.push(message);
      } else {
        result.kept.running++;
      }
    }
    await deleteMessages(dlqUrl, settled);
  }
  const kept = Object.values(result.kept).reduce((a, b) => a + b, 0);
  if (result.resent + result.deleted + kept > 0) {
    (kept > 0 ? libraryLog.warn : libraryLog.info)('reconcile: dead letters settled', { resent: result.resent, deleted: result.deleted, kept: result.kept });
  }
  return result;
}
