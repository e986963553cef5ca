import { configureLambdaTasks, getLambdaTasksConfig, getQueueSettings, resetLambdaTasksConfig } from '../../src/runtime/config';
import { ConfigurationError } from '../../src/runtime/errors';
import { resetLambdaTasksConfiguration } from '../../src/runtime/testing';

const VARS = ['LAMBDA_TASKS_QUEUES', 'LAMBDA_TASKS_DEFAULT_SOFT_TIMEOUT', 'LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT', 'LAMBDA_TASKS_EAGER', 'LAMBDA_TASKS_EAGER_PROPAGATE', 'LAMBDA_TASKS_ON_DISPATCH_ERROR', 'LAMBDA_TASKS_DISPATCH_TIMEOUT_MS'];
const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));

function setEnv(values: Record<string, string>): void {
  for (const v of VARS) delete process.env[v];
  Object.assign(process.env, values);
  resetLambdaTasksConfig();
}

function configError(): ConfigurationError {
  try {
    getLambdaTasksConfig();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('Function: getLambdaTasksConfig()', () => {
  afterEach(() => setEnv({}));
  afterAll(() => {
    for (const v of VARS) if (saved[v] === undefined) delete process.env[v]; else process.env[v] = saved[v];
    resetLambdaTasksConfig();
  });

  it('reads the seed’s form of LAMBDA_TASKS_QUEUES (name → URL) with the default timeouts', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: JSON.stringify({ default: 'https://sqs.us-east-1.amazonaws.com/1/default', high_memory: 'https://sqs.us-east-1.amazonaws.com/1/hm' }) });
    expect(getLambdaTasksConfig()).toEqual({
      queues: { default: { url: 'https://sqs.us-east-1.amazonaws.com/1/default' }, high_memory: { url: 'https://sqs.us-east-1.amazonaws.com/1/hm' } },
      defaultSoftTimeout: 270,
      defaultHardTimeout: 300,
      eager: false,
      eagerPropagate: false,
      onDispatchError: 'log',
      dispatchTimeoutMs: 10_000,
    });
  });

  it('reads the construct’s form ({ url, dlqUrl, maxHardTimeout })', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: JSON.stringify({ default: { url: 'https://q/default', dlqUrl: 'https://q/default-dlq', maxHardTimeout: 120 } }) });
    expect(getQueueSettings('default')).toEqual({ url: 'https://q/default', dlqUrl: 'https://q/default-dlq', maxHardTimeout: 120 });
  });

  it('reads timeouts, eager, eagerPropagate and onDispatchError from the environment', () => {
    setEnv({
      LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}',
      LAMBDA_TASKS_DEFAULT_SOFT_TIMEOUT: '240',
      LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT: '270',
      LAMBDA_TASKS_EAGER: 'false',
      LAMBDA_TASKS_EAGER_PROPAGATE: 'true',
      LAMBDA_TASKS_ON_DISPATCH_ERROR: 'throw',
    });
    expect(getLambdaTasksConfig()).toMatchObject({ defaultSoftTimeout: 240, defaultHardTimeout: 270, eagerPropagate: true, onDispatchError: 'throw' });
  });

  it('reads dispatchTimeoutMs from the option or LAMBDA_TASKS_DISPATCH_TIMEOUT_MS (default 10 s) and refuses bad values, naming the field', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_DISPATCH_TIMEOUT_MS: '2500' });
    expect(getLambdaTasksConfig().dispatchTimeoutMs).toBe(2500);
    configureLambdaTasks({ dispatchTimeoutMs: 4000 });
    expect(getLambdaTasksConfig().dispatchTimeoutMs).toBe(4000);
    for (const bad of ['10s', '50', '1.5', '-1', '900001']) {
      setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_DISPATCH_TIMEOUT_MS: bad });
      const error = configError();
      expect(error.field).toBe('LAMBDA_TASKS_DISPATCH_TIMEOUT_MS');
      expect(error.message).toMatch(/^LAMBDA_TASKS_DISPATCH_TIMEOUT_MS: .*an integer number of milliseconds from 100 to 900000/);
    }
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}' });
    configureLambdaTasks({ dispatchTimeoutMs: 0.5 });
    expect(configError().field).toBe('dispatchTimeoutMs');
  });

  it('lets configureLambdaTasks() options win over the environment', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/env"}', LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT: '600' });
    configureLambdaTasks({ queues: { default: 'https://q/code' }, defaultHardTimeout: 400 });
    expect(getLambdaTasksConfig()).toMatchObject({ queues: { default: { url: 'https://q/code' } }, defaultHardTimeout: 400 });
  });

  it('fails when LAMBDA_TASKS_QUEUES is not set', () => {
    setEnv({});
    const error = configError();
    expect(error.field).toBe('LAMBDA_TASKS_QUEUES');
    expect(error.message).toMatch(/is not set/);
  });

  it('fails when LAMBDA_TASKS_QUEUES has no default queue', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"reports":"https://q/r"}' });
    expect(configError().message).toBe('LAMBDA_TASKS_QUEUES: must include a "default" queue');
  });

  it('fails when LAMBDA_TASKS_QUEUES is not JSON', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{default: nope}' });
    expect(configError().message).toMatch(/^LAMBDA_TASKS_QUEUES: is not valid JSON/);
  });

  it('fails when a queue URL is not a URL, naming the queue', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"not a url"}' });
    expect(configError().message).toMatch(/^LAMBDA_TASKS_QUEUES: default: /);
  });

  it('fails on a bad number, naming the variable', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT: 'ten' });
    expect(configError().field).toBe('LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT');
  });

  it('fails on a timeout above 900 seconds (the Lambda maximum)', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT: '901' });
    expect(configError().message).toMatch(/^LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT: .*900/);
  });

  it('fails when the default soft timeout is not below the default hard timeout', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_DEFAULT_SOFT_TIMEOUT: '300', LAMBDA_TASKS_DEFAULT_HARD_TIMEOUT: '300' });
    const error = configError();
    expect(error.field).toBe('LAMBDA_TASKS_DEFAULT_SOFT_TIMEOUT');
    expect(error.message).toMatch(/must be below the default hard timeout \(300 s/);
  });

  it('fails on a bad boolean and a bad onDispatchError', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_EAGER: 'maybe' });
    expect(configError().field).toBe('LAMBDA_TASKS_EAGER');
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/d"}', LAMBDA_TASKS_ON_DISPATCH_ERROR: 'ignore' });
    expect(configError().field).toBe('LAMBDA_TASKS_ON_DISPATCH_ERROR');
  });

  it('needs no queue URLs in eager mode, implying default, but still knows only the named queues', () => {
    setEnv({ LAMBDA_TASKS_EAGER: '1' });
    expect(getLambdaTasksConfig().queues).toEqual({ default: {} });
    expect(() => getQueueSettings('reports')).toThrow('queue: unknown queue "reports"; configured queues: default');
  });

  it('resetLambdaTasksConfiguration() (testing helper) forgets configureLambdaTasks() options', () => {
    setEnv({ LAMBDA_TASKS_QUEUES: '{"default":"https://q/env"}' });
    configureLambdaTasks({ queues: { default: 'https://q/code' } });
    expect(getQueueSettings('default').url).toBe('https://q/code');
    resetLambdaTasksConfiguration();
    expect(getQueueSettings('default').url).toBe('https://q/env');
  });

  it('refuses a queue without url outside eager mode', () => {
    configureLambdaTasks({ queues: { default: {} } });
    expect(configError().message).toBe('queues.default: has no url (only eager mode runs without queue URLs)');
  });
});
