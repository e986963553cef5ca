/**
 * The public per-queue types of the construct. A *queue* is a named SQS queue with its own dead-letter
 * queue and *worker* (the Lambda function that runs the tasks sent to that queue).
 */
import type { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';

/** The settings of one named queue. */
export interface TaskQueueOptions {
  /**
   * The longest a task on this queue may run; the worker's timeout is this + 30 s (1 to 870 seconds).
   * @default Duration.minutes(5)
   */
  readonly hardTimeout?: Duration;
  /**
   * The worker's memory, in MB (128 to 10240).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Records per invocation (1 to 10000; above 10 needs maxBatchingWindow).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long the event source may wait to fill a batch (0 to 300 seconds).
   * @default - none
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Concurrent invocations of the worker (2 to 1000). Each holds up to `createHandler`'s concurrency + 1 connections.
   * @default 2
   */
  readonly maxConcurrency?: number;
  /**
   * More environment variables for this queue's worker only, merged over the construct's `environment`
   * (a name set in both takes this value). The same names are refused as in `environment`.
   * @default - only the construct's `environment`
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/** One named queue's resources, as `LambdaTasksQueue.queue(name)` returns them. */
export interface TaskQueue {
  /** The queue the tasks are sent to. */
  readonly queue: IQueue;
  /** Where a message goes after one failed receive (DLQ reconciliation reads it). */
  readonly deadLetterQueue: IQueue;
  /** The Lambda function that consumes the queue and runs its tasks. */
  readonly worker: NodejsFunction;
  /** The worker's execution role (its own, with inline policies only): add statements for what the tasks call. */
  readonly role: Role;
  /** The worker's log group (retention from `logRetention`): for metric filters or subscriptions. */
  readonly logGroup: LogGroup;
  /** The alarm on the dead-letter queue holding at least one message (to `alarmTopic` when given). */
  readonly deadLetterAlarm: Alarm;
  /** The alarm on the oldest message waiting longer than twice the worker's timeout (to `alarmTopic` when given). */
  readonly backlogAlarm: Alarm;
}
