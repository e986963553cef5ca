// Dispatch fan-out: N messages to fauxqs through sendTaskMessages (SendMessageBatch of 10, 8 batches in
// flight) against the same batches sent one after the other.
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { emit, run, scaled, summary } from './support';
import { Fauxqs } from '../examples/support/fauxqs';
import { configureLambdaTasks } from '../src/runtime/config';
import { encodeMessageBody } from '../src/runtime/message';
import { sendTaskMessages, type OutgoingTask } from '../src/runtime/sqs';

run(async () => {
  const n = scaled(10_000);
  const fauxqs = await Fauxqs.start();
  try {
    const queue = await fauxqs.createQueue('bench-dispatch');
    configureLambdaTasks({ queues: { default: { url: queue.url } }, sqsClient: fauxqs.client });
    const tasks = (offset: number): OutgoingTask[] =>
      Array.from({ length: n }, (_, i) => ({ id: globalThis.crypto.randomUUID(), taskName: 'bench.fanout', kwargs: { n: offset + i }, queue: 'default', runAfter: new Date(0) }));

    const concurrentStarted = performance.now();
    const outcome = await sendTaskMessages(tasks(0));
    const concurrentSeconds = (performance.now() - concurrentStarted) / 1000;
    if (outcome.failed.length > 0) throw new Error(`${outcome.failed.length} sends failed`);

    const sequential = tasks(n);
    const sequentialStarted = performance.now();
    for (let i = 0; i < sequential.length; i += 10) {
      const entries = sequential.slice(i, i + 10).map((t) => ({ Id: t.id, MessageBody: encodeMessageBody({ task_id: t.id, task_name: t.taskName, kwargs: t.kwargs }) }));
      await fauxqs.client.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: entries }));
    }
    const sequentialSeconds = (performance.now() - sequentialStarted) / 1000;
    const figure = emit('dispatch.messages_per_second', n / concurrentSeconds, 'messages/s', n / sequentialSeconds);
    summary(`dispatch: ${n} messages at ${figure.value.toFixed(0)}/s with 8 batches in flight vs ${figure.baseline}/s one batch at a time (ratio ${figure.ratio})`);
  } finally {
    await fauxqs.stop();
  }
});
