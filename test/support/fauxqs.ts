// The local SQS server (fauxqs in a child process) is shared with the examples' worker mode.
export { Fauxqs, type FauxqsStartOptions, type TestQueue } from '../../examples/support/fauxqs';
