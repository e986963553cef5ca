// Preloaded into the fauxqs child process (node --require): fauxqs 1.9.2 hard-codes listen({ host: '0.0.0.0' });
// this makes every server of that process listen on 127.0.0.1 only, so the local SQS server is not reachable
// from the network.
const net = require('node:net');

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (first && typeof first === 'object' && (first.host === undefined || first.host === '0.0.0.0' || first.host === '::')) {
    args[0] = { ...first, host: '127.0.0.1' };
  } else if (typeof first === 'number' && (typeof args[1] !== 'string' || args[1] === '0.0.0.0' || args[1] === '::')) {
    args.splice(1, typeof args[1] === 'string' ? 1 : 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
