// fauxqs, an SQS-compatible server, in a child process on a free port: the tests and the examples' worker mode use it.
import { spawn, type ChildProcess } from 'node:child_process';
import dns from 'node:dns';
import { createServer } from 'node:net';
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

let lookupPatched = false;

/**
 * fauxqs names its queues http://sqs.<region>.localhost:<port>/…, and an SDK client without an
 * explicit endpoint sends to the queue URL's host. glibc does not resolve *.localhost (systemd-resolved
 * and browsers do), so this process resolves it to 127.0.0.1, as fauxqs's own interceptLocalhostDns does.
 */
function resolveLocalhostSubdomains(): void {
  if (lookupPatched) return;
  lookupPatched = true;
  const original = dns.lookup;
  const patched = (hostname: string, options: unknown, callback?: unknown): void => {
    const cb = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean };
    if (hostname.endsWith('.localhost')) {
      if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
      return;
    }
    (original as (...args: unknown[]) => void)(hostname, options, callback);
  };
  (dns as { lookup: unknown }).lookup = patched;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface TestQueue {
  readonly name: string;
  readonly url: string;
  readonly dlqUrl: string;
  readonly arn: string;
}

/** An SQS-compatible server (fauxqs) in a child process on a free port. */
export class Fauxqs {
  public static async start(): Promise<Fauxqs> {
    resolveLocalhostSubdomains();
    const port = await freePort();
    const cli = path.resolve(__dirname, '../../node_modules/fauxqs/dist/cli.js'); // ESM-only: run as a child process
    // fauxqs listens on every interface; the preload keeps it on 127.0.0.1.
    const child = spawn(process.execPath, ['--require', path.join(__dirname, 'loopback-only.cjs'), cli], {
      env: { ...process.env, FAUXQS_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const fauxqs = new Fauxqs(child, `http://127.0.0.1:${port}`);
    await fauxqs.waitUntilReady();
    return fauxqs;
  }

  public readonly client: SQSClient;
  private exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, public readonly endpoint: string) {
    this.client = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout?.resume();
    child.stderr?.resume();
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await this.client.send(new ListQueuesCommand({}));
        return;
      } catch (error) {
        if (this.child.exitCode !== null) throw new Error('fauxqs exited during startup');
        if (Date.now() > deadline) throw new Error(`fauxqs did not start: ${(error as Error).message}`);
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
    return this.child.pid;
  }

  public async stop(): Promise<void> {
    this.client.destroy();
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}
