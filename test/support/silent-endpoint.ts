import { createServer, type Socket } from 'node:net';

/** An endpoint that accepts connections and never answers (a hung SQS): its URL, the sockets it holds, and close(). */
export interface SilentEndpoint {
  readonly url: string;
  readonly sockets: ReadonlySet<Socket>;
  close(): Promise<void>;
}

/** Starts a {@link SilentEndpoint} on 127.0.0.1 (a free port). */
export async function startSilentEndpoint(): Promise<SilentEndpoint> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined); // a client that gives up resets the connection
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Runs `fn` with the SDK's default chain pointed at `endpoint` (region and dummy credentials set), then restores the environment. */
export async function withSqsEndpointEnv<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
  const names = ['AWS_ENDPOINT_URL_SQS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
  const previous = names.map((name) => process.env[name]);
  Object.assign(process.env, { AWS_ENDPOINT_URL_SQS: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
  try {
    return await fn();
  } finally {
    names.forEach((name, i) => (previous[i] === undefined ? delete process.env[name] : (process.env[name] = previous[i])));
  }
}
