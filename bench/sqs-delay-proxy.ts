// A small HTTP proxy that adds a fixed delay to every request before forwarding it unchanged (method, path,
// headers, body) to fauxqs: a stand-in for the network round trip to real SQS, which fauxqs on loopback lacks.
// It runs in a child process (this file, forked), so its own parsing and forwarding do not take the bench's
// event loop: a real network delay costs the client no CPU either. An SQS client whose endpoint is the proxy
// sends every command through it: with an explicit endpoint the SDK ignores the queue URL's host
// (http://sqs.<region>.localhost:<port>/…), and fauxqs finds a queue by the full QueueUrl in the body, whatever
// the Host header says, so queue URLs stay as fauxqs gave them and the headers are forwarded as they are.
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';

/** Options of {@link SqsDelayProxy.start}. */
export interface SqsDelayProxyOptions {
  /**
   * Milliseconds added to each request before it is forwarded.
   * @default 20
   */
  readonly delayMs?: number;
}

type ToProxy = { kind: 'count' };
type FromProxy = { kind: 'ready'; port: number } | { kind: 'count'; requests: number };

/** The delay proxy on 127.0.0.1 (a free port) in front of `target`, with an SQS client that sends through it. */
export class SqsDelayProxy {
  public static async start(target: string, options: SqsDelayProxyOptions = {}): Promise<SqsDelayProxy> {
    const delayMs = options.delayMs ?? 20;
    // Run as TypeScript (ts-node, as the benches are) or as compiled JavaScript.
    const execArgv = __filename.endsWith('.ts') ? ['--require', require.resolve('ts-node/register/transpile-only')] : [];
    const child = fork(__filename, [], {
      execArgv,
      env: { ...process.env, SQS_DELAY_PROXY_TARGET: target, SQS_DELAY_PROXY_DELAY_MS: String(delayMs) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'], // stdout is the bench's figures only
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the delay proxy did not start within 30 s')), 30_000);
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`the delay proxy exited during startup (code ${code})`)));
        child.on('message', (message: FromProxy) => {
          if (message.kind !== 'ready') return;
          clearTimeout(timer);
          resolve(message.port);
        });
      });
      return new SqsDelayProxy(child, exited, `http://127.0.0.1:${port}`, delayMs);
    } catch (error) {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      throw error;
    }
  }

  /** An SQS client whose endpoint is the proxy. */
  public readonly client: SQSClient;

  private constructor(private readonly child: ChildProcess, private readonly exited: Promise<void>, public readonly url: string, public readonly delayMs: number) {
    this.client = new SQSClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  }

  /** Requests forwarded so far (a bench checks its commands really went through the proxy). */
  public async requests(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromProxy) => {
        if (message.kind !== 'count') return;
        this.child.off('message', onMessage);
        resolve(message.requests);
      };
      this.child.on('message', onMessage);
      this.child.send({ kind: 'count' } satisfies ToProxy, (error) => {
        if (!error) return;
        this.child.off('message', onMessage);
        reject(error);
      });
    });
  }

  /** Stops the proxy: the child closes its server, its client sockets and its upstream connections, and exits. */
  public async stop(): Promise<void> {
    this.client.destroy();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** The proxy itself, in the forked child. */
function serve(target: URL, delayMs: number): void {
  let requests = 0;
  let stopping = false;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // Keep-alive connections to fauxqs, so the proxy adds its delay and not a TCP handshake per request.
  const upstream = new Agent({ keepAlive: true, maxSockets: 64 });

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse): void => {
    if (stopping || res.destroyed) return;
    requests++;
    const out = request(
      { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: upstream },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`delay proxy: ${error.message}`);
    });
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        forward(req, Buffer.concat(chunks), res);
      }, delayMs);
      timers.add(timer);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    server.close(() => process.exit(0));
    for (const socket of sockets) socket.destroy();
    upstream.destroy();
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop); // the bench died without stopping it
  process.on('message', (message: ToProxy) => {
    if (message.kind === 'count') process.send?.({ kind: 'count', requests } satisfies FromProxy);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.({ kind: 'ready', port: typeof address === 'object' && address ? address.port : 0 } satisfies FromProxy);
  });
}

if (require.main === module && process.env.SQS_DELAY_PROXY_TARGET) {
  serve(new URL(process.env.SQS_DELAY_PROXY_TARGET), Number(process.env.SQS_DELAY_PROXY_DELAY_MS ?? 20));
}
