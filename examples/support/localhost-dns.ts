import dns from 'node:dns';

const PATCHED = Symbol.for('cdk-lambda-tasks.resolve-localhost-subdomains');

/**
 * fauxqs names its queues http://sqs.<region>.localhost:<port>/…, and an SDK client without an
 * explicit endpoint sends to the queue URL's host. glibc does not resolve *.localhost (systemd-resolved
 * and browsers do), so this process resolves it to 127.0.0.1, as fauxqs's own interceptLocalhostDns does.
 *
 * Once per process: `node:dns` is shared by every test file jest runs in one process, and each file loads this
 * module afresh, so a per-module flag would wrap `dns.lookup` once per file, and each wrapper would keep that file's
 * modules alive until the process ends. This module imports nothing else, so the one wrapper holds only `original`.
 */
export function resolveLocalhostSubdomains(): void {
  if ((dns.lookup as unknown as Record<symbol, boolean>)[PATCHED]) return;
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
  (patched as unknown as Record<symbol, boolean>)[PATCHED] = true;
  (dns as { lookup: unknown }).lookup = patched;
}
