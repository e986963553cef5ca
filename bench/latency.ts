// Commit-to-start latency: how long after a producer's COMMIT the task function's first line runs, through
// fauxqs and runLocalWorker (long polling 20 s, batches of up to 10, handler concurrency 4), for tasks enqueued
// at a steady rate, one executeOnCommit per transaction (em.transactional, the row flushed inside it). The clock
// starts when the transaction's work is done and only its COMMIT is left: the promise of the commit resolves
// later, after the library has read the committed ids, sent the message and set dispatched_at, and the worker
// often runs the task before that (the summary says how often), so it cannot be the start. Baseline: the bare
// SQS round trip at the same rate on a second fauxqs queue: one SendMessage per message and a plain
// ReceiveMessage long-poll consumer (it deletes what it got, as the worker does), from just before the send to
// the receipt. The ratio is what the library adds over SQS's send→receive: the COMMIT and the read after it,
// the receive loop, the claim in PostgreSQL, the dispatch to the function. Timestamps: performance.now() in this
// process. The per-round p50 and p99 are the figures.
// Size: the 1,000 tasks at a steady rate become 250 per round at 50/s (1,750 measured over 7 rounds):
// this one process is producer and worker at once, ~9 ms of CPU per task on a 2-core machine, so at 200/s it
// saturates and the latency measures its backlog (p50 ~850 ms), and 1,000 per round at 50/s (20 s per side,
// 16 sides with the warm-up) would take over 5 minutes.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { benchDatabase, emit, interleave, median, percentile, ROUNDS, run, scaled, summary } from './support';
import { Fauxqs } from '../examples/support/fauxqs';
import { configureLambdaTasks } from '../src/runtime/config';
import { createHandler, type TaskHandler } from '../src/runtime/handler';
import { lambdaTask } from '../src/runtime/lambda-task';
import { runLocalWorker } from '../src/runtime/local-worker';

const RATE_PER_SECOND = 50;
const WAIT_TIME_SECONDS = 20;
const DEADLINE_MS = 60_000;

/** When each task's function began, by task id. */
const startedAt = new Map<string, number>();
const probe = lambdaTask({ name: 'bench.latency', args: z.object({ n: z.number() }) }, async (_args, ctx) => {
  const now = performance.now(); // the task's first line
  if (ctx.taskId) startedAt.set(ctx.taskId, now);
  return null;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `fn(i)` for i < n at a steady rate (open loop: a slow call does not delay the next), then awaits them all. */
async function paced(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  const calls: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = started + (i * 1000) / RATE_PER_SECOND - performance.now();
    if (wait > 0) await sleep(wait);
    calls.push(fn(i));
  }
  await Promise.all(calls);
}

/** Waits until `done()` holds, failing after DEADLINE_MS with `what`. */
async function until(done: () => boolean | Promise<boolean>, what: () => string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await sleep(5);
  }
}

/** A bare consumer: long-polls the queue, records when each message (its body is a key) arrived, deletes it. */
async function consume(client: SQSClient, queueUrl: string, signal: AbortSignal, receivedAt: Map<string, number>): Promise<void> {
  while (!signal.aborted) {
    let messages: Message[];
    try {
      const out = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: WAIT_TIME_SECONDS }), { abortSignal: signal });
      messages = out.Messages ?? [];
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    const now = performance.now();
    if (messages.length === 0) continue;
    for (const m of messages) receivedAt.set(m.Body ?? '', now);
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}

interface Latencies {
  readonly p50: number;
  readonly p99: number;
  /** How many ended before they began (a task that started before its producer's commit promise resolved). */
  readonly negative: number;
}

/** From each key's time in `from` to its time in `to`. */
function latencies(from: ReadonlyMap<string, number>, to: ReadonlyMap<string, number>): Latencies {
  const values = [...from].map(([key, t]) => to.get(key)! - t);
  return { p50: percentile(values, 50), p99: percentile(values, 99), negative: values.filter((v) => v < 0).length };
}

run(async () => {
  const n = scaled(250);
  const controller = new AbortController();
  let db: Awaited<ReturnType<typeof benchDatabase>> | undefined;
  let fauxqs: Fauxqs | undefined;
  let handler: TaskHandler | undefined;
  const loops: Promise<unknown>[] = [];
  try {
    db = await benchDatabase({ tag: 'latency' });
    fauxqs = await Fauxqs.start();
    const { orm } = db;
    const sqs = fauxqs;
    const [queue, rawQueue] = [await sqs.createQueue('bench-latency'), await sqs.createQueue('bench-latency-raw')];
    configureLambdaTasks({ queues: { default: { url: queue.url } }, sqsClient: sqs.client });
    handler = createHandler({ tasks: [probe], orm, concurrency: 4 });
    const worker = runLocalWorker({ handler, queueUrls: [queue.url], sqsClient: sqs.client, signal: controller.signal, waitTimeSeconds: WAIT_TIME_SECONDS, batchSize: 10 });
    const receivedAt = new Map<string, number>();
    loops.push(worker, consume(sqs.client, rawQueue.url, controller.signal, receivedAt));
    // A loop that dies ends the run at once instead of leaving a round to time out.
    let failure: unknown;
    for (const loop of loops) loop.catch((error: unknown) => (failure ??= error));
    const check = () => {
      if (failure) throw failure;
    };
    const drained = async (url: string) => (await sqs.count(url)).total === 0;

    /** Each round's latencies by side (interleave returns the p50s); the first entry of each is its warm-up. */
    const extra = { subject: [] as (Latencies & { early: number; resolveMs: number })[], baseline: [] as Latencies[] };
    let round = 0;

    const subject = async (): Promise<number> => {
      round++;
      startedAt.clear();
      const committedAt = new Map<string, number>();
      const resolvedAt = new Map<string, number>();
      await paced(n, async (i) => {
        const id = await orm.em.fork().transactional(async (em) => {
          const taskId = probe.executeOnCommit({ n: round * n + i }, { em });
          await em.flush(); // the INSERT, in the transaction
          committedAt.set(taskId, performance.now()); // what is left is the COMMIT (then the library's send)
          return taskId;
        });
        resolvedAt.set(id, performance.now());
      });
      await until(() => (check(), [...committedAt.keys()].every((id) => startedAt.has(id))), () => `the tasks to start (${startedAt.size} of ${n})`);
      await until(() => drained(queue.url), () => 'the worker to delete its messages');
      const result = latencies(committedAt, startedAt);
      extra.subject.push({ ...result, early: latencies(resolvedAt, startedAt).negative, resolveMs: latencies(committedAt, resolvedAt).p50 });
      return result.p50;
    };

    const baseline = async (): Promise<number> => {
      round++;
      receivedAt.clear();
      const sentAt = new Map<string, number>();
      await paced(n, async (i) => {
        const key = `${round}:${i}`;
        sentAt.set(key, performance.now());
        await sqs.client.send(new SendMessageCommand({ QueueUrl: rawQueue.url, MessageBody: key }));
      });
      await until(() => (check(), sentAt.size === receivedAt.size), () => `the bare consumer to receive (${receivedAt.size} of ${n})`);
      await until(() => drained(rawQueue.url), () => 'the bare consumer to delete its messages');
      const result = latencies(sentAt, receivedAt);
      extra.baseline.push(result);
      return result.p50;
    };

    const p50 = await interleave(ROUNDS, baseline, subject);
    const [subjectRounds, baselineRounds] = [extra.subject.slice(1), extra.baseline.slice(1)];
    const p50Figure = emit('latency.commit_to_start_p50_ms', p50.subject, { unit: 'ms', baseline: p50.baseline, ormDependent: true });
    const p99Figure = emit('latency.commit_to_start_p99_ms', subjectRounds.map((r) => r.p99), { unit: 'ms', baseline: baselineRounds.map((r) => r.p99), ormDependent: true });
    const early = subjectRounds.reduce((sum, r) => sum + r.early, 0);
    const resolveMs = median(subjectRounds.map((r) => r.resolveMs));
    summary(
      `latency: ${n} tasks per round at ${RATE_PER_SECOND}/s, ${ROUNDS} rounds: COMMIT → task start p50 ${p50Figure.value} ms, p99 ${p99Figure.value} ms; ` +
        `bare SQS send → receive p50 ${p50Figure.baseline} ms, p99 ${p99Figure.baseline} ms (ratios ${p50Figure.ratio}, ${p99Figure.ratio}); ` +
        `the commit promise resolves ${resolveMs.toFixed(1)} ms after the COMMIT (median), and ${early} of ${n * ROUNDS} tasks started before it resolved`,
    );
  } finally {
    controller.abort();
    await Promise.allSettled(loops);
    await handler?.close();
    await fauxqs?.stop();
    await db?.close();
  }
});
