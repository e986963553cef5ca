import { Duration, Stack } from 'aws-cdk-lib';
import { Connections, type IConnectable, type ISecurityGroup, type IVpc, type SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Architecture, Function as LambdaFunctionResource, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { assertEsbuildAvailable } from './esbuild';
import { deriveQueueSettings } from './queue-settings';
import { TaskQueueResources } from './task-queue-resources';
import type { TaskSecret } from './task-secret';
import type { TaskQueue, TaskQueueOptions } from './types';
import { validateEnvironmentSize, validateQueueNames, validateRuntime, validateSecretNames } from './validation';
import { MAINTENANCE_EVENT, MAINTENANCE_SCHEDULE_MINUTES, QUEUES_ENV, SECRET_ENV_PREFIX } from '../runtime/contract';

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
   * Environment variables filled from Secrets Manager at the worker's cold start.
   * @default - none
   */
  readonly secrets?: Readonly<Record<string, TaskSecret>>;
  /**
   * More environment variables for every worker.
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
   * Bundling overrides (local esbuild; Docker is never used).
   * @default - minified CommonJS, the AWS SDK and unused knex dialects external
   */
  readonly bundling?: BundlingOptions;
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
}

/**
 * Queues, dead-letter queues and worker Lambdas for cdk-lambda-tasks: per named queue a standard
 * queue (SQS-managed encryption, TLS only, 1 MiB messages), its DLQ (maxReceiveCount 1, 14 days),
 * a worker bundled with local esbuild (own role and log group), an SQS event source with partial
 * batch responses, and alarms; plus the maintenance schedule for the default worker.
 *
 * @example
 * const tasks = new LambdaTasksQueue(stack, 'Tasks', {
 *   entry: 'src/worker.ts',
 *   queues: { default: {}, reports: { hardTimeout: Duration.minutes(10), memorySize: 3008 } },
 *   secrets: { DB_PASSWORD: TaskSecret.fromSecret(db.secret!, 'password') },
 *   vpc,
 *   environment: { DB_HOST: db.instanceEndpoint.hostname },
 * });
 * tasks.grantEnqueue(apiFunction);
 * db.connections.allowDefaultPortFrom(tasks);
 */
export class LambdaTasksQueue extends Construct implements IConnectable {
  /** `LAMBDA_TASKS_QUEUES` for producers: `{ "<name>": { "url", "dlqUrl", "maxHardTimeout" } }` (a token string). */
  public readonly queueUrlsJson: string;
  /** The maintenance schedule (every 5 minutes, to the default worker). */
  public readonly maintenanceRule: Rule;
  private readonly queues: Record<string, TaskQueueResources> = {};
  private readonly vpc?: IVpc;

  public constructor(scope: Construct, id: string, props: LambdaTasksQueueProps) {
    super(scope, id);
    const queueOptions = props.queues ?? { default: {} };
    const environment = props.environment ?? {};
    const secrets = props.secrets ?? {};
    const runtime = props.runtime ?? Runtime.NODEJS_24_X;
    validateQueueNames(Object.keys(queueOptions));
    validateSecretNames(Object.keys(secrets), environment);
    validateRuntime(runtime);
    assertEsbuildAvailable(this);
    this.vpc = props.vpc;

    for (const [name, options] of Object.entries(queueOptions)) {
      this.queues[name] = new TaskQueueResources(this, name, {
        settings: deriveQueueSettings(name, options),
        entry: props.entry,
        handler: props.handler ?? 'handler',
        runtime,
        architecture: props.architecture ?? Architecture.ARM_64,
        bundling: props.bundling,
        logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroups: props.securityGroups,
        alarmTopic: props.alarmTopic,
      });
    }

    this.queueUrlsJson = Stack.of(this).toJsonString(
      Object.fromEntries(Object.entries(this.queues).map(([name, resources]) => [name, resources.queuesEnvEntry()])),
    );
    const workerEnvironment: Record<string, string> = {
      ...environment,
      // In a bundle MikroORM's package-version check reads whatever package.json lies two folders up and
      // can refuse to start; the versions are fixed at bundling time, so the check has nothing to check.
      MIKRO_ORM_ALLOW_VERSION_MISMATCH: 'true',
      [QUEUES_ENV]: this.queueUrlsJson,
      ...Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [`${SECRET_ENV_PREFIX}${name}`, secret.reference()])),
    };
    validateEnvironmentSize(workerEnvironment);

    const allQueues = Object.values(this.queues);
    for (const resources of allQueues) {
      for (const [key, value] of Object.entries(workerEnvironment)) resources.worker.addEnvironment(key, value);
      // Deadline re-sends, tasks that enqueue tasks, retries: every worker sends to every queue.
      for (const target of allQueues) target.queue.grantSendMessages(resources.worker);
      for (const secret of Object.values(secrets)) secret.grantRead(resources.worker);
    }
    const defaultQueue = this.queues.default;
    // DLQ reconciliation runs in the default worker: it reads and deletes on every DLQ.
    for (const resources of allQueues) resources.deadLetterQueue.grantConsumeMessages(defaultQueue.worker);
    this.maintenanceRule = new Rule(this, 'MaintenanceSchedule', {
      description: 'cdk-lambda-tasks maintenance: relay, sweep, DLQ reconciliation',
      schedule: Schedule.rate(Duration.minutes(MAINTENANCE_SCHEDULE_MINUTES)),
      targets: [new LambdaFunction(defaultQueue.worker, { event: RuleTargetInput.fromObject(MAINTENANCE_EVENT), retryAttempts: 0 })],
    });
  }

  /** The resources of a named queue; an unknown name throws. */
  public queue(name: string): TaskQueue {
    const resources = this.queues[name];
    if (!resources) throw new Error(`LambdaTasksQueue: no queue named "${name}"; queues: ${Object.keys(this.queues).join(', ')}`);
    return { queue: resources.queue, deadLetterQueue: resources.deadLetterQueue, worker: resources.worker };
  }

  /** The names of the queues. */
  public get queueNames(): string[] {
    return Object.keys(this.queues);
  }

  /**
   * Lets a producer enqueue: SendMessage on every task queue; on a Lambda function also sets
   * `LAMBDA_TASKS_QUEUES` (for ECS or EC2 producers, pass `queueUrlsJson` yourself).
   */
  public grantEnqueue(grantee: IGrantable): void {
    for (const resources of Object.values(this.queues)) resources.queue.grantSendMessages(grantee);
    if (grantee instanceof LambdaFunctionResource) grantee.addEnvironment(QUEUES_ENV, this.queueUrlsJson);
  }

  /** The workers' security groups, to allow them into a database (`db.connections.allowDefaultPortFrom(tasks)`); throws without a VPC. */
  public get connections(): Connections {
    if (!this.vpc) throw new Error('LambdaTasksQueue: connections needs a vpc: the workers are not in one');
    return new Connections({ securityGroups: Object.values(this.queues).flatMap((q) => q.worker.connections.securityGroups) });
  }
}
