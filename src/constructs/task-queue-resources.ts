import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, type BundlingOptions, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueueProps, taskQueueProps } from './queue-props';
import type { DerivedQueueSettings } from './queue-settings';
import { MAINTENANCE_SCHEDULE_MINUTES } from '../runtime/contract';

// Re-exported for modules that import it from here (bench/bundle.ts); it lives in worker-bundling.ts.
export { WORKER_EXTERNAL_MODULES } from './worker-bundling';

/** The worker's function options that the construct passes through unchanged (each `undefined` keeps Lambda's default). */
export type WorkerFunctionOptions = Pick<NodejsFunctionProps, 'tracing' | 'loggingFormat' | 'applicationLogLevelV2' | 'systemLogLevelV2' | 'layers' | 'ephemeralStorageSize'>;

/** One queue's entry in `LAMBDA_TASKS_QUEUES`, as the runtime reads it. */
export interface QueuesEnvEntry {
  /** The queue's URL. */
  readonly url: string;
  /** The dead-letter queue's URL. */
  readonly dlqUrl: string;
  /** The queue's hard timeout, in seconds: a task with a larger one is refused at enqueue. */
  readonly maxHardTimeout: number;
}

/** Everything one queue's resources are built from: its derived settings and the construct's shared props (defaults applied). */
export interface TaskQueueResourcesProps {
  /** The queue's numbers, from `deriveQueueSettings`. */
  readonly settings: DerivedQueueSettings;
  /** The worker's entry file. */
  readonly entry: string;
  /** The exported handler's name. */
  readonly handler: string;
  /** The Lambda runtime. */
  readonly runtime: Runtime;
  /** The worker's architecture. */
  readonly architecture: Architecture;
  /** The bundling, from `workerBundling` (the user's options merged over the defaults). */
  readonly bundling: BundlingOptions;
  /** Function options passed through to the worker. */
  readonly functionOptions: WorkerFunctionOptions;
  /** How long the worker's logs are kept. */
  readonly logRetention: RetentionDays;
  /** The worker's VPC. */
  readonly vpc?: IVpc;
  /** The worker's subnets in the VPC. */
  readonly vpcSubnets?: SubnetSelection;
  /** The worker's security groups in the VPC. */
  readonly securityGroups?: ISecurityGroup[];
  /** Where the alarms send their notifications. */
  readonly alarmTopic?: ITopic;
  /** The user's props for the queue (checked by `validateQueueProps`). */
  readonly queueProps?: QueueProps;
  /** The user's props for the dead-letter queue (checked by `validateQueueProps`). */
  readonly deadLetterQueueProps?: QueueProps;
  /** Applied to both queues and the log group; `undefined` keeps CDK's defaults. */
  readonly removalPolicy?: RemovalPolicy;
}

/** One queue: its standard queue, dead-letter queue, worker function (with its own role and log group), event source and alarms. */
export class TaskQueueResources extends Construct {
  /** The queue the tasks are sent to. */
  public readonly queue: Queue;
  /** Where a message goes after one failed receive. */
  public readonly deadLetterQueue: Queue;
  /** The Lambda function that consumes the queue. */
  public readonly worker: NodejsFunction;
  /** The worker's role (no AWS managed policies). */
  public readonly role: Role;
  /** The worker's log group. */
  public readonly logGroup: LogGroup;
  /** Alarms when the dead-letter queue holds a message. */
  public readonly deadLetterAlarm: Alarm;
  /** Alarms when the oldest message waits longer than twice the worker's timeout. */
  public readonly backlogAlarm: Alarm;
  /** The queue's numbers. */
  public readonly settings: DerivedQueueSettings;

  public constructor(scope: Construct, id: string, props: TaskQueueResourcesProps) {
    super(scope, id);
    const settings = props.settings;
    this.settings = settings;
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', deadLetterQueueProps(props.deadLetterQueueProps, props.removalPolicy));
    this.queue = new Queue(this, 'Queue', taskQueueProps(props.queueProps, props.removalPolicy, settings.visibilityTimeoutSeconds, this.deadLetterQueue));
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description: `cdk-lambda-tasks worker of ${id}` });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );
    if (props.vpc) {
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
      entry: props.entry,
      handler: props.handler,
      runtime: props.runtime,
      architecture: props.architecture,
      memorySize: settings.memorySize,
      timeout: Duration.seconds(settings.functionTimeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      ...props.functionOptions,
      bundling: props.bundling,
    });
    this.worker.node.addDependency(this.role);
    this.worker.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: settings.batchSize,
        maxBatchingWindow: settings.maxBatchingWindowSeconds > 0 ? Duration.seconds(settings.maxBatchingWindowSeconds) : undefined,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );
    // Reconciliation settles a recoverable dead letter at the next maintenance tick (every 5 minutes); what is
    // still there — visible or held by reconciliation's receive — for three maintenance periods needs a person.
    const period = Duration.minutes(MAINTENANCE_SCHEDULE_MINUTES);
    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Messages stay in the ${id} dead-letter queue that reconciliation cannot settle: see docs/dead-letter-queues.md`,
      metric: new MathExpression({
        expression: 'visible + held',
        usingMetrics: {
          visible: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Minimum' }),
          held: this.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Minimum' }),
        },
        label: 'Dead letters (visible + in flight)',
        period,
      }),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.backlogAlarm = new Alarm(this, 'BacklogAlarm', {
      alarmDescription: `The oldest message in the ${id} queue waits longer than twice the worker timeout`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: settings.oldestMessageAlarmSeconds,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      for (const alarm of [this.deadLetterAlarm, this.backlogAlarm]) alarm.addAlarmAction(new SnsAction(props.alarmTopic));
    }
  }

  /** This queue's entry in `LAMBDA_TASKS_QUEUES`: `{ url, dlqUrl, maxHardTimeout }`. */
  public queuesEnvEntry(): QueuesEnvEntry {
    return { url: this.queue.queueUrl, dlqUrl: this.deadLetterQueue.queueUrl, maxHardTimeout: this.settings.hardTimeoutSeconds };
  }
}
