import * as constructs from '../../src';
import type { LambdaTasksQueueProps, TaskQueue, TaskQueueOptions, TaskSecretVersion } from '../../src';
import * as runtime from '../../src/runtime';
import * as testing from '../../src/runtime/testing';

/** Types of the "." entry: the compiler (tsc, ts-jest) fails here if one goes missing. */
export type ConstructTypes = [LambdaTasksQueueProps, TaskQueue, TaskQueueOptions, TaskSecretVersion];

describe('The public API', () => {
  it('"." exports the values a CDK app uses, nothing internal', () => {
    expect(Object.keys(constructs).sort()).toEqual(['LambdaTasksQueue', 'TaskSecret', 'WORKER_EXTERNAL_MODULES']);
  });

  it('"./runtime" exports the values an app and its worker call, nothing internal', () => {
    expect(Object.keys(runtime).sort()).toEqual([
      'ConfigurationError',
      'HardTimeLimitExceeded',
      'IdempotencyKeyConflictError',
      'LambdaTasksError',
      'NonRetriableError',
      'SecretResolutionError',
      'SoftTimeLimitExceeded',
      'TaskDefinitionError',
      'TaskDispatchError',
      'TaskInvocation',
      'TaskNotRegisteredError',
      'TaskRecord',
      'TaskStateError',
      'TaskStatus',
      'TaskValidationError',
      'TimeoutRangeError',
      'cancelTask',
      'cleanupTaskRecords',
      'cleanupTaskRecordsTask',
      'configureLambdaTasks',
      'createHandler',
      'getTask',
      'lambdaTask',
      'reconcileDeadLetters',
      'relayQueuedTasks',
      'resolveSecretsIntoEnv',
      'retryTask',
      'runLocalWorker',
      'runMaintenance',
      'sweepLostTasks',
      'taskLogger',
      'waitForTask',
      'withLambdaTasks',
    ]);
  });

  it('"./runtime/testing" exports the test helpers', () => {
    expect(Object.keys(testing).sort()).toEqual(['drainTasks', 'resetLambdaTasksConfiguration', 'resetTaskRegistry']);
  });

  it('importing the runtime registers no task (no module changes global state when imported)', () => {
    jest.isolateModules(() => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      require('../../src/runtime');
      const registry = require('../../src/runtime/registry') as typeof import('../../src/runtime/registry');
      /* eslint-enable @typescript-eslint/no-require-imports */
      expect(registry.findTask('lambdaTasks.cleanupTaskRecords')).toBeUndefined();
    });
  });
});
