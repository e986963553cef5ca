import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { METRICS_ENV } from '../../src/runtime/contract';
import { createHandler } from '../../src/runtime/handler';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { sweepLostTasks } from '../../src/runtime/sweep';
import { engine, type TestDatabase } from '../support/database';
import { deliver, enqueue, receiveMessages } from '../support/delivery';
import { emfViolations } from '../support/emf';
import type { Fauxqs, TestQueue } from '../support/fauxqs';
import { configureForQueues, quietLogs } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS } from '../support/worker-environment';

class Flaky extends Error {
  override name = 'Flaky';
}
const ok = lambdaTask({ name: 'metrics.ok', args: z.object({}) }, async () => 'fine');
const broken = lambdaTask({ name: 'metrics.broken', args: z.object({}) }, async () => {
  throw new Error('no');
});
const flaky = lambdaTask({ name: 'metrics.flaky', args: z.object({}), retryOn: [Flaky], retryDelay: 600 }, async () => {
  throw new Flaky('later');
});

describe(`Task metrics: embedded metric format lines from the worker (${engine})`, () => {
  let db: TestDatabase;
  let fauxqs: Fauxqs;
  let queue: TestQueue;
  let written: string[] = [];
  let write: jest.SpyInstance;
  const emfLines = () => written.flatMap((chunk) => chunk.split('\n')).filter((line) => line.includes('"_aws"'));

  quietLogs(['info', 'warn']);
  beforeAll(async () => {
    ({ db, fauxqs, queue } = await startWorkerEnvironment({ queueName: 'metrics' }));
  }, START_TIMEOUT_MS);
  beforeEach(() => {
    configureForQueues({ default: queue }, { sqsClient: fauxqs.client });
    written = [];
    write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    write?.mockRestore(); // undefined when the start-up failed (beforeEach did not run)
    delete process.env[METRICS_ENV];
  });
  afterAll(() => stopWorkerEnvironment({ db, fauxqs }));

  async function runAll(ids: string[]) {
    await deliver({ fauxqs, queue }, createHandler({ tasks: [ok, broken, flaky], orm: db.orm }), { messages: await receiveMessages({ fauxqs, queue }, ids.length) });
  }

  it('one valid EMF line per outcome: Tasks (Count) and TaskDuration (Milliseconds) by [Queue], [Queue, Status], [Queue, TaskName, Status], with the namespace and service the construct set', async () => {
    process.env[METRICS_ENV] = JSON.stringify({ namespace: 'CdkLambdaTasks', service: 'Stack-Tasks' });
    const ids = await enqueue(db, (em: EntityManager) => [ok.executeOnCommit({}, { em }), broken.executeOnCommit({}, { em }), flaky.executeOnCommit({}, { em })]);
    await runAll(ids);
    const lines = emfLines();
    expect(lines).toHaveLength(3);
    expect(jest.mocked(console.warn).mock.calls.flat().join(' ')).not.toMatch(/Dimension|EMF key/); // Powertools' own warnings stay out of the log
    for (const line of lines) expect(emfViolations(line)).toEqual([]);
    const documents = lines.map((line) => JSON.parse(line) as Record<string, any>);
    expect(documents.map((d) => `${d.TaskName} ${d.Status}`).sort()).toEqual(['metrics.broken FAILED', 'metrics.flaky RETRYING', 'metrics.ok SUCCESS']);
    for (const d of documents) {
      const directive = d._aws.CloudWatchMetrics[0];
      expect(directive.Namespace).toBe('CdkLambdaTasks');
      expect(directive.Dimensions).toEqual([['service', 'Queue'], ['service', 'Queue', 'Status'], ['service', 'Queue', 'TaskName', 'Status']]);
      expect(directive.Metrics).toEqual([{ Name: 'Tasks', Unit: 'Count' }, { Name: 'TaskDuration', Unit: 'Milliseconds' }]);
      expect(d).toMatchObject({ service: 'Stack-Tasks', Queue: 'default', Tasks: 1 });
      expect(d.TaskDuration).toBeGreaterThanOrEqual(0);
      expect(ids).toContain(d.taskId);
    }
  });

  it('counts a message re-sent for lack of time as TaskResends (valid EMF, Status RESENT), and no outcome for it', async () => {
    process.env[METRICS_ENV] = JSON.stringify({ namespace: 'CdkLambdaTasks', service: 'Stack-Tasks' });
    const [id] = await enqueue(db, (em: EntityManager) => [ok.executeOnCommit({}, { em })]);
    // 5 s left is less than the task's hard timeout plus the deadline margin: the message is re-sent, not run.
    await deliver({ fauxqs, queue }, createHandler({ tasks: [ok], orm: db.orm }), { messages: await receiveMessages({ fauxqs, queue }, 1), remainingMs: 5_000 });
    const lines = emfLines();
    expect(lines).toHaveLength(1);
    expect(emfViolations(lines[0])).toEqual([]);
    const document = JSON.parse(lines[0]) as Record<string, any>;
    expect(document._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'TaskResends', Unit: 'Count' }]);
    expect(document).toMatchObject({ service: 'Stack-Tasks', Queue: 'default', TaskName: 'metrics.ok', Status: 'RESENT', TaskResends: 1, taskId: id });
    await runAll([id]); // the re-sent message, so that the next test starts with an empty queue
  });

  it('writes one outcome line for an attempt the deadline check FAILED without running (re-sent too often)', async () => {
    process.env[METRICS_ENV] = JSON.stringify({ namespace: 'CdkLambdaTasks', service: 'Stack-Tasks' });
    const [id] = await enqueue(db, (em: EntityManager) => [ok.executeOnCommit({}, { em })]);
    const [message] = await receiveMessages({ fauxqs, queue }, 1);
    message.MessageAttributes = { lambda_tasks_resends: { DataType: 'Number', StringValue: '3' } };
    await deliver({ fauxqs, queue }, createHandler({ tasks: [ok], orm: db.orm }), { messages: [message], remainingMs: 5_000 });
    const lines = emfLines();
    expect(lines).toHaveLength(1);
    expect(emfViolations(lines[0])).toEqual([]);
    expect(JSON.parse(lines[0])).toMatchObject({ Queue: 'default', TaskName: 'metrics.ok', Status: 'FAILED', Tasks: 1, taskId: id });
  });

  it('writes one outcome line for an attempt the sweep marked FAILED (its worker was lost)', async () => {
    process.env[METRICS_ENV] = JSON.stringify({ namespace: 'CdkLambdaTasks', service: 'Stack-Tasks' });
    const [id] = await enqueue(db, (em: EntityManager) => [ok.executeOnCommit({}, { em })]);
    await db.sql("update task_record set status = 'RUNNING', start_time = now() - interval '1 hour', hard_timeout = 5 where id = ?", [id]);
    expect(await sweepLostTasks({ em: db.orm.em.fork() })).toEqual({ swept: 1 });
    const lines = emfLines();
    expect(lines).toHaveLength(1);
    expect(emfViolations(lines[0])).toEqual([]);
    const document = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(document).toMatchObject({ Queue: 'default', TaskName: 'metrics.ok', Status: 'FAILED', Tasks: 1, taskId: id });
    expect(document.TaskDuration).toBeGreaterThanOrEqual(3_600_000);
    await fauxqs.drain(queue.url); // its message, so that the next test starts with an empty queue
  });

  it('writes nothing without the construct’s setting (tests, eager mode, local workers)', async () => {
    const ids = await enqueue(db, (em: EntityManager) => [ok.executeOnCommit({}, { em })]);
    await runAll(ids);
    expect(emfLines()).toEqual([]);
  });

  it('the checker catches broken documents (it can fail)', () => {
    expect(emfViolations('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Queue"]],"Metrics":[{"Name":"Tasks","Unit":"Things"}]}]},"Queue":1}')).toEqual([
      'CloudWatchMetrics[0].Dimensions[0] names "Queue", which is not a string member of the root',
      'CloudWatchMetrics[0].Metrics[0] "Tasks" has no numeric member in the root',
      'CloudWatchMetrics[0].Metrics[0].Unit "Things" is not a CloudWatch unit',
    ]);
  });
});
