import type { RemovalPolicy, Size } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { ApplicationLogLevel, Architecture, ILayerVersion, LoggingFormat, Runtime, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { QueueProps } from 'aws-cdk-lib/aws-sqs';
import type { TaskScheduleOptions } from './task-schedules';
import type { TaskSecret } from './task-secret';
import type { TaskQueueOptions } from './types';

/** Props of {@link LambdaTasksQueue}. */
export interface LambdaTasksQueueProps {
  /** The worker's entry file, which exports the handler made by `createHandler`. */
  readonly entry: string;
  /**
   * The exported handler's name.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * The named queues, each with its own worker; must include `default`.
   * @default { default: {} }
   */
  readonly queues?: Readonly<Record<string, TaskQueueOptions>>;
  /**
   * Scheduled tasks, by schedule name: one EventBridge Scheduler schedule each (cron or rate, with a time
   * zone), invoking the default worker, which enqueues the task through the outbox once per tick.
   * @default - none
   */
  readonly schedules?: Readonly<Record<string, TaskScheduleOptions>>;
  /**
   * The CloudWatch namespace of the workers' task metrics (EMF log lines: `Tasks`, `TaskDuration`,
   * `TaskResends`, by `service` = this construct's path, `Queue`, `Status`, `TaskName`).
   * @default 'CdkLambdaTasks'
   */
  readonly metricsNamespace?: string;
  /**
   * Whether to add a CloudWatch dashboard: per queue, depth and age, DLQ depth, outcomes by status,
   * duration p50/p99 and re-sends.
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * Environment variables filled from Secrets Manager at the worker's cold start.
   * @default - none
   */
  readonly secrets?: Readonly<Record<string, TaskSecret>>;
  /**
   * More environment variables for every worker (a queue's own `environment` is merged over them). Refused:
   * the variables the construct sets (`LAMBDA_TASKS_QUEUES`, `LAMBDA_TASKS_SCHEDULES`, `LAMBDA_TASKS_METRICS`, `LAMBDA_TASKS_SECRET_*`,
   * `MIKRO_ORM_ALLOW_VERSION_MISMATCH`), those Lambda reserves, and the names of `secrets`.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * The VPC of the workers (they need NAT or VPC endpoints for SQS and Secrets Manager there).
   * @default - not in a VPC
   */
  readonly vpc?: IVpc;
  /**
   * The workers' subnets in the VPC.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: SubnetSelection;
  /**
   * The workers' security groups in the VPC.
   * @default - one created per worker
   */
  readonly securityGroups?: ISecurityGroup[];
  /**
   * The Lambda runtime (Node.js 22 or newer).
   * @default Runtime.NODEJS_24_X
   */
  readonly runtime?: Runtime;
  /**
   * The workers' architecture.
   * @default Architecture.ARM_64
   */
  readonly architecture?: Architecture;
  /**
   * Bundling overrides (local esbuild; Docker is never used), merged over the defaults. `externalModules`
   * are added to the required ones (`WORKER_EXTERNAL_MODULES`), which are always kept; `format` must stay
   * `OutputFormat.CJS`: the bundled MikroORM, knex and pg `require()` Node.js built-ins when they load,
   * which fails in an ESM bundle ("Dynamic require of events is not supported"), so ESM is refused at synth.
   * @default - minified CommonJS, the AWS SDK and unused knex dialects external
   */
  readonly bundling?: BundlingOptions;
  /**
   * Bundles a source map and sets `NODE_OPTIONS=--enable-source-maps` on the workers (appended to a
   * `NODE_OPTIONS` of yours), so stack traces, and the tracebacks stored in task records, point into your
   * sources. Off by default: `bench/source-maps.ts` measured the worker's ~6.9 MB map making its load 1.39×
   * slower (278 vs 200 ms) and its first error 1.94× (402 vs 207 ms, when the map is parsed).
   * @default false
   */
  readonly sourceMap?: boolean;
  /**
   * How long the workers' logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Where the dead-letter and backlog alarms send their notifications.
   * @default - alarms without actions
   */
  readonly alarmTopic?: ITopic;
  /**
   * AWS X-Ray tracing of the workers. `Tracing.ACTIVE` also grants `xray:PutTraceSegments` and `xray:PutTelemetryRecords`
   * on `*` (they take no resource; cdk-nag reports them as AwsSolutions-IAM5).
   * @default - no tracing
   */
  readonly tracing?: Tracing;
  /**
   * The workers' log format. With `LoggingFormat.JSON`, the runtime's task log lines carry `taskId` and `taskName` as fields.
   * @default - Lambda's default (text)
   */
  readonly loggingFormat?: LoggingFormat;
  /**
   * The lowest level of application log lines Lambda keeps (needs `loggingFormat: LoggingFormat.JSON`).
   * @default - Lambda's default (INFO) when the format is JSON
   */
  readonly applicationLogLevelV2?: ApplicationLogLevel;
  /**
   * The lowest level of Lambda's own log lines it keeps (needs `loggingFormat: LoggingFormat.JSON`).
   * @default - Lambda's default (INFO) when the format is JSON
   */
  readonly systemLogLevelV2?: SystemLogLevel;
  /**
   * Lambda layers for every worker (at most 5). Mark what a layer provides as `bundling.externalModules`.
   * @default - none
   */
  readonly layers?: ILayerVersion[];
  /**
   * The size of each worker's /tmp (512 to 10240 MiB, whole MiB).
   * @default - Lambda's default (512 MiB)
   */
  readonly ephemeralStorageSize?: Size;
  /**
   * More props for every task queue, for example `retentionPeriod`, or `encryption: QueueEncryption.KMS` with
   * `encryptionMasterKey` (your customer-managed key; a key alone also means KMS). The settings the
   * construct depends on are refused if given: `visibilityTimeout` (derived from `hardTimeout`),
   * `deadLetterQueue`, `queueName`, FIFO settings, `enforceSSL: false`, a `maxMessageSizeBytes` other
   * than 1 MiB, and `QueueEncryption.UNENCRYPTED` or `KMS` without a key.
   * @default - SQS-managed encryption, SQS's retention (4 days)
   */
  readonly queueProps?: QueueProps;
  /**
   * More props for every dead-letter queue (`retentionPeriod`, a customer-managed KMS key, …), refused like
   * `queueProps` (and `redriveAllowPolicy`); the retention must be at least the queues' retention.
   * @default - SQS-managed encryption, 14 days' retention
   */
  readonly deadLetterQueueProps?: QueueProps;
  /**
   * The removal policy of every queue, dead-letter queue and worker log group (a `removalPolicy` in
   * `queueProps` or `deadLetterQueueProps` wins for those queues).
   * @default - CDK's defaults: queues are deleted, log groups retained
   */
  readonly removalPolicy?: RemovalPolicy;
}
