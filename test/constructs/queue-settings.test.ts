import { Duration } from 'aws-cdk-lib';
import { deriveQueueSettings } from '../../src/constructs/queue-settings';
import type { TaskQueueOptions } from '../../src/constructs/types';

describe('Function: deriveQueueSettings()', () => {
  describe('defaults', () => {
    const settings = deriveQueueSettings('default', {});

    it('gives a hard timeout of 300 s (5 minutes)', () => {
      expect(settings.hardTimeoutSeconds).toBe(300);
    });

    it('gives batches of 10', () => {
      expect(settings.batchSize).toBe(10);
    });

    it('gives no batching window', () => {
      expect(settings.maxBatchingWindowSeconds).toBe(0);
    });

    it('gives at most 2 concurrent invocations', () => {
      expect(settings.maxConcurrency).toBe(2);
    });

    it('gives 512 MB of memory', () => {
      expect(settings.memorySize).toBe(512);
    });

    it('derives a function timeout of 330 s, a visibility timeout of 1980 s and an alarm threshold of 660 s', () => {
      expect(settings).toEqual({
        hardTimeoutSeconds: 300,
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 2,
        memorySize: 512,
        functionTimeoutSeconds: 330,
        visibilityTimeoutSeconds: 1980,
        oldestMessageAlarmSeconds: 660,
      });
    });
  });

  describe('overrides', () => {
    it('keeps every given value and derives from them: function timeout = hard timeout + 30 s, visibility = 6 × that + window, alarm = 2 × timeout', () => {
      // Prepare
      const options: TaskQueueOptions = { hardTimeout: Duration.minutes(10), batchSize: 50, maxBatchingWindow: Duration.seconds(20), maxConcurrency: 5, memorySize: 3008 };

      // Act
      const settings = deriveQueueSettings('reports', options);

      // Assess
      expect(settings).toEqual({
        hardTimeoutSeconds: 600,
        batchSize: 50,
        maxBatchingWindowSeconds: 20,
        maxConcurrency: 5,
        memorySize: 3008,
        functionTimeoutSeconds: 630,
        visibilityTimeoutSeconds: 6 * 630 + 20,
        oldestMessageAlarmSeconds: 1260,
      });
    });

    it('accepts the largest settings: hard timeout 870 s (a 900 s function), batches of 10000, a 300 s window, 1000 invocations, 10240 MB', () => {
      const settings = deriveQueueSettings('big', { hardTimeout: Duration.seconds(870), batchSize: 10_000, maxBatchingWindow: Duration.seconds(300), maxConcurrency: 1000, memorySize: 10_240 });
      expect(settings).toMatchObject({ functionTimeoutSeconds: 900, visibilityTimeoutSeconds: 5700, oldestMessageAlarmSeconds: 1800 });
    });

    it('accepts the smallest settings: hard timeout 1 s, batches of 1, 2 invocations, 128 MB', () => {
      const settings = deriveQueueSettings('small', { hardTimeout: Duration.seconds(1), batchSize: 1, maxConcurrency: 2, memorySize: 128 });
      expect(settings).toMatchObject({ functionTimeoutSeconds: 31, visibilityTimeoutSeconds: 186, oldestMessageAlarmSeconds: 62 });
    });

    it('accepts a hard timeout given in milliseconds when it is a whole number of seconds', () => {
      expect(deriveQueueSettings('q', { hardTimeout: Duration.millis(2000) }).hardTimeoutSeconds).toBe(2);
    });

    it('accepts a batch above 10 with a batching window of 1 s', () => {
      expect(deriveQueueSettings('q', { batchSize: 11, maxBatchingWindow: Duration.seconds(1) }).batchSize).toBe(11);
    });
  });

  describe('errors', () => {
    it.each<[string, TaskQueueOptions, string]>([
      ['a hard timeout of 871 s', { hardTimeout: Duration.seconds(871) }, 'queues.q.hardTimeout must be a whole number of seconds from 1 to 870'],
      ['a hard timeout of 0 s', { hardTimeout: Duration.seconds(0) }, 'queues.q.hardTimeout must be a whole number of seconds from 1 to 870'],
      ['a hard timeout of 1.5 s', { hardTimeout: Duration.millis(1500) }, 'queues.q.hardTimeout must be a whole number of seconds from 1 to 870'],
      ['a batching window of 0.5 s', { maxBatchingWindow: Duration.millis(500) }, 'queues.q.maxBatchingWindow must be a whole number of seconds from 0 to 300'],
      ['a batch size of 0', { batchSize: 0 }, 'queues.q.batchSize must be from 1 to 10000'],
      ['a batch size of 10001', { batchSize: 10_001, maxBatchingWindow: Duration.seconds(1) }, 'queues.q.batchSize must be from 1 to 10000'],
      ['a batching window of 301 s', { maxBatchingWindow: Duration.seconds(301) }, 'queues.q.maxBatchingWindow must be a whole number of seconds from 0 to 300'],
      ['a batch size of 11 without a batching window', { batchSize: 11 }, 'queues.q.batchSize above 10 needs a maxBatchingWindow of at least 1 second'],
      ['a maxConcurrency of 1', { maxConcurrency: 1 }, 'queues.q.maxConcurrency must be from 2 to 1000'],
      ['a maxConcurrency of 1001', { maxConcurrency: 1001 }, 'queues.q.maxConcurrency must be from 2 to 1000'],
      ['a memory size of 64 MB', { memorySize: 64 }, 'queues.q.memorySize must be from 128 to 10240 MB'],
      ['a memory size of 10241 MB', { memorySize: 10_241 }, 'queues.q.memorySize must be from 128 to 10240 MB'],
    ])('refuses %s with a fixed message naming the queue', (_title, options, message) => {
      expect(() => deriveQueueSettings('q', options)).toThrow(new Error(`LambdaTasksQueue: ${message}`));
    });
  });
});
