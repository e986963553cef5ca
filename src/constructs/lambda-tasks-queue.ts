import { Duration, Stack } from 'aws-cdk-lib';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { Connections, type IConnectable, type ISecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { Rule, RuleTargetInput, Schedule as EventsSchedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Architecture, Function as LambdaFunctionResource, Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { assertEsbuildAvailable } from './esbuild';
import type { LambdaTasksQueueProps } from './lambda-tasks-queue-props';
import { grantSendTasks } from './queue-grants';
import { validateQueueProps } from './queue-props';
import { deriveQueueSettings } from './queue-settings';
import { failSynth } from './synth-error';
import { TaskDashboard } from './task-dashboard';
import { TaskQueueResources } from './task-queue-resources';
import { TaskSchedules } from './task-schedules';
import type { TaskQueue } from './types';
import {
  type NamedEnvironment,
  validateEnvironmentNames,
  validateEnvironmentSize,
  validateEphemeralStorageSize,
  validateLogging,
  validateQueueNames,
  validateRuntime,
  validateSecretNames,
} from './validation';
import { workerBundling } from './worker-bundling';
import { workerEnvironment } from './worker-environment';
import { DEFAULT_METRICS_NAMESPACE, MAINTENANCE_EVENT, MAINTENANCE_SCHEDULE_MINUTES, QUEUES_ENV, type MetricsSettings } from '../runtime/contract';

/**
 * Queues, dead-letter queues and worker Lambdas for cdk-lambda-tasks: per named queue a standard
 * queue (SQS-managed encryption, TLS only, 1 MiB messages), its DLQ (maxReceiveCount 1, 14 days),
 * a worker bundled with local esbuild (own role and log group), an SQS event source with partial
 * batch responses, and alarms; plus the maintenance schedule for the default worker. Every prop and
 * its default: docs/construct.md.
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
  /** The CloudWatch dashboard (undefined with `dashboard: false`). */
  public readonly dashboard?: Dashboard;
  /** The EventBridge Scheduler schedules of `schedules`, by name. */
  public readonly schedules: Record<string, Schedule>;
  private readonly queues: Record<string, TaskQueueResources> = {};
  private readonly workerConnections?: Connections;

  public constructor(scope: Construct, id: string, props: LambdaTasksQueueProps) {
    super(scope, id);
    const queueOptions = props.queues ?? { default: {} };
    const secrets = props.secrets ?? {};
    const runtime = props.runtime ?? Runtime.NODEJS_24_X;
    const environments: NamedEnvironment[] = [
      ['environment', props.environment ?? {}],
      ...Object.entries(queueOptions).map(([name, options]): NamedEnvironment => [`queues.${name}.environment`, options.environment ?? {}]),
    ];
    validateQueueNames(Object.keys(queueOptions));
    environments.forEach(validateEnvironmentNames);
    validateSecretNames(Object.keys(secrets), environments);
    validateRuntime(runtime);
    validateLogging(props.loggingFormat, props.applicationLogLevelV2, props.systemLogLevelV2);
    validateEphemeralStorageSize(props.ephemeralStorageSize);
    validateQueueProps(props.queueProps, props.deadLetterQueueProps);
    const { bundling, sourceMap } = workerBundling(props.bundling, props.sourceMap);
    assertEsbuildAvailable(this);

    for (const [name, options] of Object.entries(queueOptions)) {
      this.queues[name] = new TaskQueueResources(this, name, {
        settings: deriveQueueSettings(name, options),
        entry: props.entry,
        handler: props.handler ?? 'handler',
        runtime,
        architecture: props.architecture ?? Architecture.ARM_64,
        bundling,
        functionOptions: {
          tracing: props.tracing,
          loggingFormat: props.loggingFormat,
          applicationLogLevelV2: props.applicationLogLevelV2,
          systemLogLevelV2: props.systemLogLevelV2,
          layers: props.layers,
          ephemeralStorageSize: props.ephemeralStorageSize,
        },
        logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroups: props.securityGroups,
        alarmTopic: props.alarmTopic,
        queueProps: props.queueProps,
        deadLetterQueueProps: props.deadLetterQueueProps,
        removalPolicy: props.removalPolicy,
      });
    }

    this.queueUrlsJson = Stack.of(this).toJsonString(
      Object.fromEntries(Object.entries(this.queues).map(([name, resources]) => [name, resources.queuesEnvEntry()])),
    );
    const defaultQueue = this.queues.default;
    const metrics: MetricsSettings = { namespace: props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE, service: this.node.path };
    const schedules = props.schedules && Object.keys(props.schedules).length > 0 ? new TaskSchedules(this, 'Schedules', defaultQueue.worker, props.schedules) : undefined;
    this.schedules = schedules?.schedules ?? {};
    for (const [name, resources] of Object.entries(this.queues)) {
      const queue = queueOptions[name].environment ?? {};
      const schedulesJson = name === 'default' ? schedules?.environmentJson : undefined;
      const variables = workerEnvironment({ shared: props.environment ?? {}, queue, queuesJson: this.queueUrlsJson, secrets, sourceMap, schedulesJson, metricsJson: JSON.stringify(metrics) });
      validateEnvironmentSize(variables);
      for (const [key, value] of Object.entries(variables)) resources.worker.addEnvironment(key, value);
    }

    const allQueues = Object.values(this.queues);
    for (const resources of allQueues) {
      // Deadline re-sends, tasks that enqueue tasks, retries: every worker sends to every queue.
      for (const target of allQueues) grantSendTasks(target.queue, resources.worker);
      for (const secret of Object.values(secrets)) secret.grantRead(resources.worker);
    }
    // DLQ reconciliation runs in the default worker: it reads and deletes on every DLQ.
    for (const resources of allQueues) resources.deadLetterQueue.grantConsumeMessages(defaultQueue.worker);
    this.maintenanceRule = new Rule(this, 'MaintenanceSchedule', {
      description: 'cdk-lambda-tasks maintenance: relay, sweep, DLQ reconciliation',
      schedule: EventsSchedule.rate(Duration.minutes(MAINTENANCE_SCHEDULE_MINUTES)),
      targets: [new LambdaFunction(defaultQueue.worker, { event: RuleTargetInput.fromObject(MAINTENANCE_EVENT), retryAttempts: 0 })],
    });
    const dashboardQueues = Object.entries(this.queues).map(([name, { queue, deadLetterQueue }]) => ({ name, queue, deadLetterQueue }));
    this.dashboard = props.dashboard === false ? undefined : new TaskDashboard(this, 'Dashboard', metrics, dashboardQueues).dashboard;
    if (props.vpc) {
      // One object for every call of `connections`: CDK marks it while it wires a rule in both directions; a new
      // object per call lost the mark, and CDK then tried an egress rule on each worker's allow-all-outbound group
      // ("Ignoring Egress rule", once per worker).
      const securityGroups = new Set<ISecurityGroup>(allQueues.flatMap((resources) => resources.worker.connections.securityGroups));
      this.workerConnections = new Connections({ securityGroups: [...securityGroups] });
    }
  }

  /** The resources of a named queue; an unknown name throws. */
  public queue(name: string): TaskQueue {
    const resources = this.queues[name];
    if (!resources) failSynth(`no queue named "${name}"; queues: ${Object.keys(this.queues).join(', ')}`);
    const { queue, deadLetterQueue, worker, role, logGroup, deadLetterAlarm, backlogAlarm } = resources;
    return { queue, deadLetterQueue, worker, role, logGroup, deadLetterAlarm, backlogAlarm };
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
    for (const resources of Object.values(this.queues)) grantSendTasks(resources.queue, grantee);
    if (grantee instanceof LambdaFunctionResource) grantee.addEnvironment(QUEUES_ENV, this.queueUrlsJson);
  }

  /**
   * The workers' security groups (each once), to allow them into a database
   * (`db.connections.allowDefaultPortFrom(tasks)`); the same object on every call. Throws without a VPC.
   */
  public get connections(): Connections {
    if (!this.workerConnections) failSynth('connections needs a vpc: the workers are not in one');
    return this.workerConnections;
  }
}
