// The fauxqs child process that Fauxqs.start (fauxqs.ts) spawns: fauxqs is ESM-only, so jest (CommonJS) runs it here.
// Unlike fauxqs's own cli.js it logs nothing per request, listens on the port the parent asks for (0: any free
// one), and says when it is ready with one line on stdout, which the parent waits for:
//   fauxqs listening on port <port>
// It dies with its parent: the parent holds this process's stdin open, and end-of-file on it means the parent has
// gone (even when it was killed with SIGKILL and ran no clean-up of its own).
import { startFauxqs } from 'fauxqs';

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const server = await startFauxqs({ port: Number(process.env.FAUXQS_PORT ?? 0), logger: false });
process.stdout.write(`fauxqs listening on port ${server.port}\n`);

const stop = () => {
  server.stop().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref(); // open keep-alive connections must not delay the exit
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
