/**
 * Task metrics as CloudWatch embedded-metric-format log lines (Powertools Metrics), written by the workers
 * when the construct configured them ({@link METRICS_ENV}); nothing otherwise (tests, eager mode, local runs).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES, METRICS_ENV, type MetricsSettings } from './contract';
import { libraryLog } from './logger';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/**
 * Powertools' own messages. It warns when a key is in more than one dimension set, which these lines do by
 * design (the same Queue in [Queue], [Queue, Status] and [Queue, TaskName, Status]): those stay out of the
 * worker's log; its errors go to the library's log.
 */
const powertoolsLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (...args: unknown[]) => libraryLog.error(`metrics: ${args.map(String).join(' ')}`),
};

let cached: { raw: string | undefined; metrics: Metrics | undefined } | undefined;

/**
 * The Metrics of the settings in {@link METRICS_ENV} (one per process; each publish clears its dimensions and
 * metadata), or undefined (no metrics); a malformed value is logged once.
 */
function configuredMetrics(): Metrics | undefined {
  const raw = process.env[METRICS_ENV];
  if (cached && cached.raw === raw) return cached.metrics;
  let settings: MetricsSettings | undefined;
  if (raw) {
    try {
      const parsed = JSON.parse(raw) as Partial<MetricsSettings>;
      if (typeof parsed.namespace === 'string' && parsed.namespace && typeof parsed.service === 'string' && parsed.service) settings = { namespace: parsed.namespace, service: parsed.service };
    } catch {
      // reported below
    }
    if (!settings) libraryLog.error(`${METRICS_ENV} must be {"namespace":"…","service":"…"}; no metrics are written`, { value: raw });
  }
  const metrics = settings && new Metrics({ namespace: settings.namespace, serviceName: settings.service, logger: powertoolsLogger });
  cached = { raw, metrics };
  return metrics;
}

/** One EMF line: `metric` by [Queue], [Queue, Status] and [Queue, TaskName, Status] (each with `service`). */
function publish(dimensions: { queue: string; taskName: string; status: string }, values: readonly [string, Unit, number][], taskId: string): void {
  const metrics = configuredMetrics();
  if (!metrics) return;
  metrics.addDimension('Queue', dimensions.queue);
  metrics.addDimensions({ Queue: dimensions.queue, Status: dimensions.status });
  metrics.addDimensions({ Queue: dimensions.queue, TaskName: dimensions.taskName, Status: dimensions.status });
  for (const [name, unit, value] of values) metrics.addMetric(name, unit, value);
  metrics.addMetadata('taskId', taskId);
  metrics.publishStoredMetrics();
}

/** Counts an attempt's outcome and records its duration (SUCCESS, FAILED or RETRYING). */
export function recordTaskOutcome(outcome: { queue: string; taskName: string; status: string; durationMs: number; taskId: string }): void {
  publish(outcome, [[METRIC_NAMES.tasks, MetricUnit.Count, 1], [METRIC_NAMES.duration, MetricUnit.Milliseconds, outcome.durationMs]], outcome.taskId);
}

/** Counts a message re-sent because the invocation had too little time left for the task. */
export function recordResend(resend: { queue: string; taskName: string; taskId: string }): void {
  publish({ ...resend, status: 'RESENT' }, [[METRIC_NAMES.resends, MetricUnit.Count, 1]], resend.taskId);
}
