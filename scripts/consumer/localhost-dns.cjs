// Preloaded (node --require) into the consumer test's processes that talk to fauxqs: fauxqs names its queues
// http://sqs.<region>.localhost:<port>/…, an SQS client sends to the queue URL's host, and glibc does not
// resolve *.localhost. This resolves it to 127.0.0.1, as examples/support/fauxqs.ts does in-process.
const dns = require('node:dns');

const original = dns.lookup;
dns.lookup = function lookupLocalhostSubdomains(hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'object' && options !== null ? options : {};
  if (typeof hostname === 'string' && hostname.endsWith('.localhost')) {
    if (opts.all) process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
    else process.nextTick(cb, null, '127.0.0.1', 4);
    return {};
  }
  return original.call(this, hostname, options, callback);
};
