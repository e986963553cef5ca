import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Fauxqs, TestQueue } from './fauxqs';
import { configureLambdaTasks, type LambdaTasksOptions } from '../../src/runtime/config';

/** Points the runtime at fauxqs queues (`{ url, dlqUrl }` per queue name). */
export function configureForQueues(queues: Record<string, TestQueue>, extra: Partial<LambdaTasksOptions> & { sqsClient?: SQSClient } = {}): void {
  configureLambdaTasks({
    queues: Object.fromEntries(Object.entries(queues).map(([name, q]) => [name, { url: q.url, dlqUrl: q.dlqUrl }])),
    ...extra,
  });
}

/** Receives and deletes every visible message of a queue and returns their task ids (in arrival order). */
export async function drainTaskIds(fauxqs: Fauxqs, url: string): Promise<string[]> {
  const messages = await fauxqs.drain(url);
  await fauxqs.deleteMessages(url, messages);
  return messages.map((m) => (JSON.parse(m.Body!) as { task_id: string }).task_id);
}

/** Counts the SQS commands a client sends, by command name. */
export function countCommands(client: SQSClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `countCommands-${Math.random()}` },
  );
  return counts;
}

/** Silences console output (the library's log lines) in every test of the enclosing describe block; tests that assert on logs spy themselves. */
export function quietLogs(levels: readonly ('info' | 'warn' | 'error')[] = ['info', 'warn', 'error']): void {
  beforeEach(() => {
    for (const level of levels) jest.spyOn(console, level).mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());
}
