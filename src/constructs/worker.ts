import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DerivedQueueSettings } from './derived-settings';

/** Packages the worker must not bundle: in the Lambda runtime (@aws-sdk), or knex dialects MikroORM never loads on PostgreSQL. */
export const WORKER_EXTERNAL_MODULES = ['@aws-sdk/*', 'better-sqlite3', 'sqlite3', 'libsql', 'mariadb', 'mysql', 'mysql2', 'oracledb', 'tedious'];

/** The SQS maximum message size (1 MiB). */
const MAX_MESSAGE_BYTES = 1_048_576;

/** Everything one queue's worker is built from. */
export interface WorkerOptions {
  readonly entry: string;
  readonly handler: string;
  readonly runtime: Runtime;
  readonly architecture: Architecture;
  readonly memorySize: number;
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  readonly maxConcurrency: number;
  readonly derived: DerivedQueueSettings;
  readonly bundling?: BundlingOptions;
  readonly logRetention: RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
  readonly vpc?: IVpc;
  readonly vpcSubnets?: SubnetSelection;
  readonly securityGroups?: ISecurityGroup[];
  readonly alarmTopic?: ITopic;
}

/** One queue: its standard queue, dead-letter queue, worker function (with its own role and log group), event source and alarms. */
export class TaskQueueResources extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  public readonly worker: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;
  public readonly deadLetterAlarm: Alarm;
  public readonly backlogAlarm: Alarm;

  public constructor(scope: Construct, id: string, options: WorkerOptions) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      visibilityTimeout: Duration.seconds(options.derived.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 1 },
    });
    this.logGroup = new LogGroup(this, 'Logs', { retention: options.logRetention, removalPolicy: options.removalPolicy });
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description: `cdk-lambda-tasks worker of ${id}` });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );
    if (options.vpc) {
      // What AWSLambdaVPCAccessExecutionRole grants: Lambda manages the function's network interfaces; these actions take no resource.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: ['*'],
        }),
      );
    }
    this.worker = new NodejsFunction(this, 'Worker', {
      entry: options.entry,
      handler: options.handler,
      runtime: options.runtime,
      architecture: options.architecture,
      memorySize: options.memorySize,
      timeout: Duration.seconds(options.derived.functionTimeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      vpc: options.vpc,
      vpcSubnets: options.vpcSubnets,
      securityGroups: options.securityGroups,
      bundling: {
        format: OutputFormat.CJS,
        minify: true,
        externalModules: WORKER_EXTERNAL_MODULES,
        ...options.bundling,
        forceDockerBundling: false,
      },
    });
    this.worker.node.addDependency(this.role);
    this.worker.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: options.batchSize,
        maxBatchingWindow: options.maxBatchingWindow.toSeconds() > 0 ? options.maxBatchingWindow : undefined,
        reportBatchItemFailures: true,
        maxConcurrency: options.maxConcurrency,
      }),
    );
    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Messages in the ${id} dead-letter queue: see the cdk-lambda-tasks DLQ runbook`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.backlogAlarm = new Alarm(this, 'BacklogAlarm', {
      alarmDescription: `The oldest message in the ${id} queue waits longer than twice the worker timeout`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: options.derived.oldestMessageAlarmSeconds,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (options.alarmTopic) {
      for (const alarm of [this.deadLetterAlarm, this.backlogAlarm]) alarm.addAlarmAction(new SnsAction(options.alarmTopic));
    }
  }

  /** `{ url, dlqUrl, maxHardTimeout }` as the runtime reads it from LAMBDA_TASKS_QUEUES. */
  public settings(maxHardTimeout: number): { url: string; dlqUrl: string; maxHardTimeout: number } {
    return { url: this.queue.queueUrl, dlqUrl: this.deadLetterQueue.queueUrl, maxHardTimeout };
  }
}
