// fauxqs, an SQS-compatible server, in a child process on a free port: the tests and the examples' worker mode use it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { resolveLocalhostSubdomains } from './localhost-dns';
import { started } from './still-running';

export interface TestQueue {
  readonly name: string;
  readonly url: string;
  readonly dlqUrl: string;
  readonly arn: string;
}

/** Options of {@link Fauxqs.start}. */
export interface FauxqsStartOptions {
  /**
   * How long to wait for the server to say it is listening and to answer a first request. Generous, because
   * the tests start it on a busy machine (fauxqs, PGlite and a jest worker starting together on 2 cores).
   * @default 60_000
   */
  readonly readyTimeoutMs?: number;
  /** The port to listen on. @default 0 (any free port, chosen by the server itself: no race for it) */
  readonly port?: number;
  /** The Node.js arguments of the child process (tests of this harness start something that fails). @default the fauxqs server */
  readonly nodeArgs?: readonly string[];
}

/** The readiness line of fauxqs-server.mjs. */
const LISTENING = /^fauxqs listening on port (\d+)$/m;

/** An SQS-compatible server (fauxqs) in a child process on a free port. */
export class Fauxqs {
  /**
   * Starts fauxqs and waits until it is ready: it has printed its "listening" line and answered a ListQueues.
   * If it does not get there (it exits, or the wait runs out), the child is killed before the error is thrown,
   * and the error says what was awaited and what the child wrote to stderr.
   *
   * The child dies with this process even when this process is killed (it exits on end-of-file on its stdin, which
   * this process holds), and it does not keep this process alive (it is unref'd): a test runner that forgets to
   * stop it cannot hang on it.
   */
  public static async start(options: FauxqsStartOptions = {}): Promise<Fauxqs> {
    resolveLocalhostSubdomains();
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    // fauxqs listens on every interface; the preload keeps it on 127.0.0.1.
    const args = options.nodeArgs ?? ['--require', path.join(__dirname, 'loopback-only.cjs'), path.join(__dirname, 'fauxqs-server.mjs')];
    const child = spawn(process.execPath, [...args], {
      cwd: path.resolve(__dirname, '../..'), // fauxqs-server.mjs imports 'fauxqs' from the repository's node_modules
      env: { ...process.env, FAUXQS_PORT: String(options.port ?? 0), NODE_OPTIONS: '' }, // not jest's --experimental-vm-modules
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const process_ = new FauxqsProcess(child);
    const forget = started(`fauxqs (pid ${child.pid})`, () => process_.kill());
    process_.onExit(forget);
    try {
      const port = await process_.waitForLine(LISTENING, deadline, timeoutMs);
      const fauxqs = new Fauxqs(process_, `http://127.0.0.1:${port}`, forget);
      await fauxqs.waitUntilAnswering(deadline, timeoutMs);
      return fauxqs;
    } catch (error) {
      await process_.kill();
      throw error;
    }
  }

  public readonly client: SQSClient;
  private stopping?: Promise<void>;

  private constructor(private readonly process_: FauxqsProcess, public readonly endpoint: string, private readonly forget: () => void) {
    this.client = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  }

  /** The "listening" line is printed after listen() returned; one request proves the server answers. */
  private async waitUntilAnswering(deadline: number, timeoutMs: number): Promise<void> {
    for (;;) {
      try {
        await this.client.send(new ListQueuesCommand({}));
        return;
      } catch (error) {
        this.process_.throwIfExited('before it answered a first request');
        if (Date.now() > deadline) {
          throw new Error(`fauxqs (pid ${this.pid}) said it was listening on ${this.endpoint} but did not answer a ListQueues within ${timeoutMs} ms: ${(error as Error).message}${this.process_.stderrTail()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Creates a standard queue and its DLQ (`maxReceiveCount` 1). */
  public async createQueue(name: string, options: { visibilityTimeout?: number } = {}): Promise<TestQueue> {
    const dlq = await this.client.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqAttrs = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
    const queue = await this.client.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeout ?? 30),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqAttrs.Attributes!.QueueArn, maxReceiveCount: 1 }),
        },
      }),
    );
    const attrs = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }));
    return { name, url: queue.QueueUrl!, dlqUrl: dlq.QueueUrl!, arn: attrs.Attributes!.QueueArn! };
  }

  /** Receives up to `max` messages (long-polling up to `waitSeconds` until at least one arrives). */
  public async receive(url: string, options: { max?: number; waitSeconds?: number; visibilityTimeout?: number } = {}): Promise<Message[]> {
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.min(options.max ?? 10, 10),
        WaitTimeSeconds: options.waitSeconds ?? 0,
        VisibilityTimeout: options.visibilityTimeout,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return out.Messages ?? [];
  }

  /** Receives every visible message (in rounds of 10) until a round comes back empty. */
  public async drain(url: string, options: { visibilityTimeout?: number } = {}): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const batch = await this.receive(url, { max: 10, visibilityTimeout: options.visibilityTimeout ?? 300 });
      if (batch.length === 0) return all;
      all.push(...batch);
    }
  }

  public async deleteMessages(url: string, messages: readonly Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      const entries = chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! }));
      await this.client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    }
  }

  /** Visible + in-flight + delayed messages. */
  public async count(url: string): Promise<{ visible: number; inFlight: number; delayed: number; total: number }> {
    const out = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const a = out.Attributes ?? {};
    const visible = Number(a.ApproximateNumberOfMessages ?? 0);
    const inFlight = Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
    const delayed = Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
    return { visible, inFlight, delayed, total: visible + inFlight + delayed };
  }

  public get pid(): number | undefined {
    return this.process_.pid;
  }

  /** Stops the server and waits until its process has exited; a second call waits for the first. */
  public async stop(): Promise<void> {
    this.forget(); // the caller stops it now: the end of the file need not (see still-running.ts)
    this.stopping ??= (async () => {
      this.client.destroy();
      await this.process_.kill();
    })();
    return this.stopping;
  }
}

/** The child process: its exit, its stdout lines and the end of its stderr. */
class FauxqsProcess {
  private stdout = '';
  private stderr = '';
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;
  private readonly spawnError: Promise<Error>;

  constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
    });
    this.spawnError = new Promise((resolve) => child.once('error', resolve));
    // The exit promise resolves on 'exit', and 'error' (spawn failed) comes without one: make it one.
    void this.spawnError.then(() => {
      this.exit ??= { code: null, signal: null };
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stdout.length < 64 * 1024) this.stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4 * 1024);
    });
    child.stdin!.on('error', () => undefined); // EPIPE when the child has gone
    // Neither the child nor its pipes keep this process alive; the child exits when its stdin closes.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?(): void }).unref?.();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  onExit(callback: () => void): void {
    void this.exited.then(callback);
  }

  /** Waits for a line of stdout matching `pattern` (its first group is returned), the child's exit, or the deadline. */
  async waitForLine(pattern: RegExp, deadline: number, timeoutMs: number): Promise<string> {
    const what = `its "listening" line on stdout (${pattern.source})`;
    const stdout = this.child.stdout!;
    let wake: () => void = () => undefined;
    const onData = () => wake();
    stdout.on('data', onData);
    try {
      for (;;) {
        const match = pattern.exec(this.stdout);
        if (match) return match[1];
        this.throwIfExited(`before it printed ${what}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`fauxqs (pid ${this.pid}) did not print ${what} within ${timeoutMs} ms${this.stderrTail()}`);
        // Wake on output, on exit, on a spawn error, or at the deadline.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, left);
          }),
          this.exited,
          this.spawnError.then((error) => {
            throw new Error(`fauxqs could not be started (${process.execPath}): ${error.message}`);
          }),
        ]);
        clearTimeout(timer);
      }
    } finally {
      stdout.off('data', onData);
    }
  }

  throwIfExited(when: string): void {
    if (!this.exit) return;
    const how = this.exit.signal ? `was killed by ${this.exit.signal}` : `exited with code ${this.exit.code}`;
    throw new Error(`fauxqs (pid ${this.pid}) ${how} ${when}${this.stderrTail()}`);
  }

  stderrTail(): string {
    const tail = this.stderr.trim();
    return tail ? `; its stderr ends with:\n${tail}` : '; it wrote nothing to stderr';
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s; resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.exit || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
