import { deriveQueueSettings, type QueueSettingsInput } from '../../src/constructs/derived-settings';

const base: QueueSettingsInput = { hardTimeoutSeconds: 300, batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2, memorySize: 512 };

describe('Function: deriveQueueSettings()', () => {
  it('makes the function timeout hard timeout + 30 s, the visibility 6 × that + the window, the alarm 2 × the timeout', () => {
    expect(deriveQueueSettings('default', base)).toEqual({ functionTimeoutSeconds: 330, visibilityTimeoutSeconds: 1980, oldestMessageAlarmSeconds: 660 });
    expect(deriveQueueSettings('reports', { ...base, hardTimeoutSeconds: 870, batchSize: 100, maxBatchingWindowSeconds: 300 })).toEqual({
      functionTimeoutSeconds: 900,
      visibilityTimeoutSeconds: 5700,
      oldestMessageAlarmSeconds: 1800,
    });
    expect(deriveQueueSettings('fast', { ...base, hardTimeoutSeconds: 1 }).functionTimeoutSeconds).toBe(31);
  });

  it.each<[string, Partial<QueueSettingsInput>, string]>([
    ['hard timeout 871 s', { hardTimeoutSeconds: 871 }, 'queues.q.hardTimeout must be a whole number of seconds from 1 to 870'],
    ['hard timeout 1.5 s', { hardTimeoutSeconds: 1.5 }, 'queues.q.hardTimeout must be a whole number of seconds from 1 to 870'],
    ['batch size 0', { batchSize: 0 }, 'queues.q.batchSize must be from 1 to 10000'],
    ['batch size 11 without a window', { batchSize: 11 }, 'queues.q.batchSize above 10 needs a maxBatchingWindow of at least 1 second'],
    ['a window of 301 s', { maxBatchingWindowSeconds: 301 }, 'queues.q.maxBatchingWindow must be a whole number of seconds from 0 to 300'],
    ['maxConcurrency 1001', { maxConcurrency: 1001 }, 'queues.q.maxConcurrency must be from 2 to 1000'],
    ['memory 64 MB', { memorySize: 64 }, 'queues.q.memorySize must be from 128 to 10240 MB'],
  ])('refuses %s', (_title, override, message) => {
    expect(() => deriveQueueSettings('q', { ...base, ...override })).toThrow(`LambdaTasksQueue: ${message}`);
  });
});
