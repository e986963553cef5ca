// Dispatch fan-out over a slow network: task messages sent to fauxqs through a proxy that adds 20 ms to every
// request (SQS is a network round trip away; fauxqs on loopback is not). Subject: the library's
// sendTaskMessages (SendMessageBatch of 10, 8 batches in flight). Baseline: the same messages, encoded by the
// same encodeMessageBody, in the same SendMessageBatch requests of 10 through the same proxy, one batch at a
// time. Figure: messages/s with 8 in flight over messages/s with 1 in flight (the speedup; 8 at best).
// Size: the 10,000 messages are split over the rounds (10,000 / ROUNDS per round, a multiple of 10;
// 1,430 with 7 rounds, 10,010 measured) because one round of 10,000 one batch at a time takes ~24 s, and 8 rounds
// of both sides (the warm-up included) would take ~4 minutes. The queue is purged after every side so fauxqs
// does not grow. Each side checks that all its requests went through the proxy and all its messages arrived.
import { PurgeQueueCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { SqsDelayProxy } from './sqs-delay-proxy';
import { emit, interleave, ROUNDS, run, scaled, summary } from './support';
import { Fauxqs } from '../examples/support/fauxqs';
import { configureLambdaTasks } from '../src/runtime/config';
import { encodeMessageBody } from '../src/runtime/message';
import { sendTaskMessages, type OutgoingTask } from '../src/runtime/sqs';

const DELAY_MS = 20;
const BATCH = 10;

run(async () => {
  const total = scaled(10_000);
  const perRound = Math.max(BATCH, Math.ceil(total / ROUNDS / BATCH) * BATCH);
  const batchesPerRound = perRound / BATCH;
  let fauxqs: Fauxqs | undefined;
  let proxy: SqsDelayProxy | undefined;
  try {
    fauxqs = await Fauxqs.start();
    proxy = await SqsDelayProxy.start(fauxqs.endpoint, { delayMs: DELAY_MS });
    const direct = fauxqs;
    const through = proxy;
    const queue = await direct.createQueue('bench-dispatch');
    configureLambdaTasks({ queues: { default: { url: queue.url } }, sqsClient: through.client });

    let round = 0;
    const messages = (): OutgoingTask[] => {
      round++;
      return Array.from({ length: perRound }, (_, i) => ({ id: globalThis.crypto.randomUUID(), taskName: 'bench.fanout', kwargs: { round, n: i }, queue: 'default', runAfter: new Date(0) }));
    };
    /** Times one side's send, then checks every message arrived through the proxy and empties the queue. */
    const measure = async (side: string, send: (tasks: readonly OutgoingTask[]) => Promise<void>): Promise<number> => {
      const tasks = messages();
      const requestsBefore = await through.requests();
      const started = performance.now();
      await send(tasks);
      const seconds = (performance.now() - started) / 1000;
      const forwarded = (await through.requests()) - requestsBefore;
      if (forwarded !== batchesPerRound) throw new Error(`${side}: ${forwarded} requests went through the proxy, ${batchesPerRound} expected`);
      const { total: queued } = await direct.count(queue.url);
      if (queued !== perRound) throw new Error(`${side}: ${queued} messages on the queue, ${perRound} sent`);
      await direct.client.send(new PurgeQueueCommand({ QueueUrl: queue.url }));
      return perRound / seconds;
    };

    // The subject: the library, 8 batches in flight.
    const concurrent = () =>
      measure('sendTaskMessages', async (tasks) => {
        const outcome = await sendTaskMessages(tasks);
        if (outcome.failed.length > 0) throw new Error(`${outcome.failed.length} sends failed: ${outcome.failed[0].reason}`);
      });
    // The baseline: the same requests one after the other.
    const sequential = () =>
      measure('one batch at a time', async (tasks) => {
        for (let i = 0; i < tasks.length; i += BATCH) {
          const entries = tasks.slice(i, i + BATCH).map((t) => ({
            Id: t.id,
            MessageBody: encodeMessageBody({ task_id: t.id, task_name: t.taskName, kwargs: t.kwargs }),
            DelaySeconds: 0,
          }));
          const out = await through.client.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: entries }));
          if (out.Failed?.length) throw new Error(`${out.Failed.length} entries failed: ${out.Failed[0].Message ?? ''}`);
        }
      });

    const rounds = await interleave(ROUNDS, sequential, concurrent);
    const forwarded = await through.requests();
    const figure = emit('dispatch.speedup_8_vs_1_at_20ms', rounds.subject, { unit: 'messages/s', baseline: rounds.baseline, aim: '>= 5' });
    summary(
      `dispatch: ${perRound} messages per round (${ROUNDS} rounds, ${perRound * ROUNDS} measured), ${DELAY_MS} ms added per request: ` +
        `${figure.value.toFixed(0)}/s with 8 batches in flight vs ${figure.baseline?.toFixed(0)}/s one at a time (speedup ${figure.ratio}, spread ${figure.spread}); ` +
        `${forwarded} requests through the proxy (in its own process); per round ${rounds.subject.map((v, i) => (v / rounds.baseline[i]).toFixed(2)).join(', ')}`,
    );
  } finally {
    await proxy?.stop();
    await fauxqs?.stop();
  }
});
