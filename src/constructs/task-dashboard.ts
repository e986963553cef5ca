import { Duration } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, Metric, Stats, type IWidget } from 'aws-cdk-lib/aws-cloudwatch';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_NAMES, OUTCOME_STATUSES, type MetricsSettings } from '../runtime/contract';

/** A queue as the dashboard shows it. */
export interface DashboardQueue {
  readonly name: string;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
}

const PERIOD = Duration.minutes(5);

/**
 * One CloudWatch dashboard for a LambdaTasksQueue, a row per queue: queue depth and age of the oldest
 * message, dead-letter queue depth, outcomes by status, duration p50/p99 and re-sends (the last three from
 * the workers' EMF metrics, by the `service` and `Queue` dimensions).
 */
export class TaskDashboard extends Construct {
  public readonly dashboard: Dashboard;

  public constructor(scope: Construct, id: string, settings: MetricsSettings, queues: readonly DashboardQueue[]) {
    super(scope, id);
    const metric = (name: string, queue: string, statistic: string, extra: Record<string, string> = {}, label?: string) =>
      new Metric({ namespace: settings.namespace, metricName: name, dimensionsMap: { service: settings.service, Queue: queue, ...extra }, statistic, period: PERIOD, label });
    const rows: IWidget[][] = queues.map(({ name, queue, deadLetterQueue }) => [
      new GraphWidget({
        title: `${name}: messages and age of the oldest`,
        left: [queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: 'waiting' }), queue.metricApproximateNumberOfMessagesNotVisible({ period: PERIOD, label: 'in flight' })],
        right: [queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, label: 'oldest (s)' })],
        width: 6,
      }),
      new GraphWidget({ title: `${name}: dead-letter queue`, left: [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: 'dead letters' })], width: 4 }),
      new GraphWidget({ title: `${name}: outcomes`, left: OUTCOME_STATUSES.map((status) => metric(METRIC_NAMES.tasks, name, Stats.SUM, { Status: status }, status)), width: 5 }),
      new GraphWidget({ title: `${name}: duration (ms)`, left: [metric(METRIC_NAMES.duration, name, Stats.p(50), {}, 'p50'), metric(METRIC_NAMES.duration, name, Stats.p(99), {}, 'p99')], width: 5 }),
      new GraphWidget({ title: `${name}: re-sends (too little time left)`, left: [metric(METRIC_NAMES.resends, name, Stats.SUM, {}, 're-sends')], width: 4 }),
    ]);
    this.dashboard = new Dashboard(this, 'Dashboard', { widgets: rows, defaultInterval: Duration.hours(3) });
  }
}
