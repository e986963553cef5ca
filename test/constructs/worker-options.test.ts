import { Duration, Size, Stack } from 'aws-cdk-lib';
import { ApplicationLogLevel, LayerVersion, LoggingFormat, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { actionsOf, SECRET_ARN, statementsOf, synth, workerOf } from './helpers';
import { TaskSecret, type LambdaTasksQueueProps } from '../../src';

const LAYER_ARN = 'arn:aws:lambda:eu-west-1:123456789012:layer:fonts:3';
const twoQueues = { default: {}, reports: { hardTimeout: Duration.minutes(10) } };

describe('LambdaTasksQueue worker options: defaults', () => {
  const { template } = synth({ queues: twoQueues, environment: { DB_HOST: 'db.internal' } });

  it('Workers have no X-Ray tracing by default', () => {
    expect(workerOf(template, 'default').TracingConfig).toBeUndefined();
    expect(actionsOf(statementsOf(template, 'default')).filter((action) => action.startsWith('xray:'))).toEqual([]);
  });

  it('Workers log in Lambda\'s default format by default, to their own log group', () => {
    expect(Object.keys(workerOf(template, 'default').LoggingConfig)).toEqual(['LogGroup']);
  });

  it('Workers have no layers by default', () => {
    expect(workerOf(template, 'default').Layers).toBeUndefined();
  });

  it('Workers have Lambda\'s default /tmp by default', () => {
    expect(workerOf(template, 'default').EphemeralStorage).toBeUndefined();
  });

  it('Workers share the construct\'s environment when their queues give none', () => {
    for (const queue of ['default', 'reports']) expect(workerOf(template, queue).Environment.Variables.DB_HOST).toBe('db.internal');
  });
});

describe('LambdaTasksQueue worker options: overrides', () => {
  it('Workers have X-Ray tracing when tracing is given, with the X-Ray write actions', () => {
    const { template } = synth({ queues: twoQueues, tracing: Tracing.ACTIVE });
    for (const queue of ['default', 'reports']) {
      expect(workerOf(template, queue).TracingConfig).toEqual({ Mode: 'Active' });
      expect(actionsOf(statementsOf(template, queue))).toEqual(expect.arrayContaining(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']));
    }
  });

  it('Workers log JSON at the given levels when loggingFormat and the log levels are given, still to their own log group', () => {
    const { template } = synth({ loggingFormat: LoggingFormat.JSON, applicationLogLevelV2: ApplicationLogLevel.DEBUG, systemLogLevelV2: SystemLogLevel.WARN });
    expect(workerOf(template, 'default').LoggingConfig).toEqual({
      LogFormat: 'JSON',
      ApplicationLogLevel: 'DEBUG',
      SystemLogLevel: 'WARN',
      LogGroup: { Ref: expect.stringMatching(/^TasksdefaultLogs/) },
    });
  });

  it('Workers log JSON at Lambda\'s default levels when only loggingFormat is given', () => {
    const { template } = synth({ loggingFormat: LoggingFormat.JSON });
    expect(workerOf(template, 'default').LoggingConfig).toEqual({ LogFormat: 'JSON', LogGroup: { Ref: expect.stringMatching(/^TasksdefaultLogs/) } });
  });

  it('Workers have the given layers', () => {
    const { template } = synth({ queues: twoQueues }, { prepare: (stack) => ({ layers: [LayerVersion.fromLayerVersionArn(stack, 'Fonts', LAYER_ARN)] }) });
    for (const queue of ['default', 'reports']) expect(workerOf(template, queue).Layers).toEqual([LAYER_ARN]);
  });

  it('Workers have the given /tmp size when ephemeralStorageSize is given', () => {
    const { template } = synth({ ephemeralStorageSize: Size.gibibytes(2) });
    expect(workerOf(template, 'default').EphemeralStorage).toEqual({ Size: 2048 });
  });

  it('A queue\'s environment is merged over the shared one for that queue\'s worker only', () => {
    // Act
    const { template } = synth({
      environment: { DB_HOST: 'primary.internal', LOG_LEVEL: 'info' },
      queues: { default: {}, reports: { environment: { DB_HOST: 'replica.internal', REPORTS_BUCKET: 'reports' } } },
    });

    // Assess
    const reports = workerOf(template, 'reports').Environment.Variables;
    const defaults = workerOf(template, 'default').Environment.Variables;
    expect(reports).toMatchObject({ DB_HOST: 'replica.internal', LOG_LEVEL: 'info', REPORTS_BUCKET: 'reports', MIKRO_ORM_ALLOW_VERSION_MISMATCH: 'true' });
    expect(reports.LAMBDA_TASKS_QUEUES).toEqual(defaults.LAMBDA_TASKS_QUEUES);
    expect(defaults).toMatchObject({ DB_HOST: 'primary.internal', LOG_LEVEL: 'info' });
    expect(defaults.REPORTS_BUCKET).toBeUndefined();
  });

  it('A queue\'s environment may be given without a shared one', () => {
    const { template } = synth({ queues: { default: { environment: { ONLY_HERE: '1' } } } });
    expect(workerOf(template, 'default').Environment.Variables.ONLY_HERE).toBe('1');
  });
});

describe('LambdaTasksQueue worker options: validation', () => {
  const secret = () => TaskSecret.fromSecret(Secret.fromSecretCompleteArn(new Stack(), 'S', SECRET_ARN), 'password');

  it.each<[string, Partial<LambdaTasksQueueProps>, string]>([
    ['log levels without the JSON format', { applicationLogLevelV2: ApplicationLogLevel.DEBUG },
      'LambdaTasksQueue: applicationLogLevelV2 and systemLogLevelV2 need loggingFormat: LoggingFormat.JSON (Lambda filters log levels only in its JSON format)'],
    ['a system log level with the text format', { loggingFormat: LoggingFormat.TEXT, systemLogLevelV2: SystemLogLevel.WARN },
      'LambdaTasksQueue: applicationLogLevelV2 and systemLogLevelV2 need loggingFormat: LoggingFormat.JSON (Lambda filters log levels only in its JSON format)'],
    ['a /tmp of 256 MiB', { ephemeralStorageSize: Size.mebibytes(256) }, 'LambdaTasksQueue: ephemeralStorageSize must be a whole number of MiB from 512 to 10240'],
    ['a /tmp of 11 GiB', { ephemeralStorageSize: Size.gibibytes(11) }, 'LambdaTasksQueue: ephemeralStorageSize must be a whole number of MiB from 512 to 10240'],
    ['a /tmp of 600.5 MiB', { ephemeralStorageSize: Size.kibibytes(600 * 1024 + 512) }, 'LambdaTasksQueue: ephemeralStorageSize must be a whole number of MiB from 512 to 10240'],
    ['LAMBDA_TASKS_QUEUES in a queue\'s environment', { queues: { default: { environment: { LAMBDA_TASKS_QUEUES: '{}' } } } },
      'LambdaTasksQueue: queues.default.environment sets "LAMBDA_TASKS_QUEUES", which the construct sets itself (LAMBDA_TASKS_QUEUES, LAMBDA_TASKS_SCHEDULES, LAMBDA_TASKS_METRICS, MIKRO_ORM_ALLOW_VERSION_MISMATCH, LAMBDA_TASKS_SECRET_*)'],
    ['a secret reference variable in the environment', { environment: { LAMBDA_TASKS_SECRET_DB_PASSWORD: 'x' } },
      'LambdaTasksQueue: environment sets "LAMBDA_TASKS_SECRET_DB_PASSWORD", which the construct sets itself (LAMBDA_TASKS_QUEUES, LAMBDA_TASKS_SCHEDULES, LAMBDA_TASKS_METRICS, MIKRO_ORM_ALLOW_VERSION_MISMATCH, LAMBDA_TASKS_SECRET_*)'],
    ['MIKRO_ORM_ALLOW_VERSION_MISMATCH in the environment', { environment: { MIKRO_ORM_ALLOW_VERSION_MISMATCH: 'false' } },
      'LambdaTasksQueue: environment sets "MIKRO_ORM_ALLOW_VERSION_MISMATCH", which the construct sets itself (LAMBDA_TASKS_QUEUES, LAMBDA_TASKS_SCHEDULES, LAMBDA_TASKS_METRICS, MIKRO_ORM_ALLOW_VERSION_MISMATCH, LAMBDA_TASKS_SECRET_*)'],
    ['a variable Lambda reserves in a queue\'s environment', { queues: { default: { environment: { AWS_REGION: 'us-east-1' } } } },
      'LambdaTasksQueue: queues.default.environment sets "AWS_REGION", which Lambda reserves'],
    ['a variable Lambda reserves in the environment', { environment: { _HANDLER: 'x' } }, 'LambdaTasksQueue: environment sets "_HANDLER", which Lambda reserves'],
    ['a secret\'s name in a queue\'s environment', { secrets: { DB_PASSWORD: secret() }, queues: { default: {}, reports: { environment: { DB_PASSWORD: 'x' } } } },
      'LambdaTasksQueue: secret name "DB_PASSWORD" is also set in queues.reports.environment: set one or the other'],
    ['a secret\'s name in the environment', { secrets: { DB_PASSWORD: secret() }, environment: { DB_PASSWORD: 'x' } },
      'LambdaTasksQueue: secret name "DB_PASSWORD" is also set in environment: set one or the other'],
  ])('refuses %s with a fixed message', (_title, props, message) => {
    expect(() => synth(props)).toThrow(new Error(message));
  });

  it('checks Lambda\'s 4 KB on each worker\'s own environment', () => {
    const props = { environment: { SHARED: 'x'.repeat(2000) }, queues: { default: {}, reports: { environment: { BIG: 'x'.repeat(2500) } } } };
    expect(() => synth(props)).toThrow(/the worker environment would be about \d+ bytes; Lambda allows 4096/);
    expect(() => synth({ ...props, queues: { default: {}, reports: { environment: { BIG: 'x'.repeat(1500) } } } })).not.toThrow();
  });
});
