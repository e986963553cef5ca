/**
 * The contract the construct and the runtime share: names, limits, margins, the scheduled event and the
 * secret reference format. Both halves import these values from here, so they cannot drift apart.
 * Pure values and functions: no AWS SDK, no aws-cdk-lib.
 */
import { SecretResolutionError } from './errors';

/** Queue names: letters, digits, `_` and `-`, up to 40 characters (the construct builds resource names from them). */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,40}$/;

/** Task names: letters, digits and `_ . : -`, starting with a letter or `_`, up to 200 characters. */
export const TASK_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$/;

/** Environment variable names a secret may fill: upper-case letters, digits and `_`, not starting with a digit. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

/** The variable that holds the queues (`{ "<name>": { "url", "dlqUrl", "maxHardTimeout" } }`). */
export const QUEUES_ENV = 'LAMBDA_TASKS_QUEUES';

/** The prefix of secret reference variables: `LAMBDA_TASKS_SECRET_<NAME>` fills `NAME`. */
export const SECRET_ENV_PREFIX = 'LAMBDA_TASKS_SECRET_';

/** The largest SQS message body, in bytes (1 MiB); the construct sets it on every queue. */
export const MAX_MESSAGE_BYTES = 1_048_576;

/** The longest SQS delay and the longest Lambda run, in seconds. */
export const MAX_TIMEOUT_SECONDS = 900;

/** SQS's largest DelaySeconds: a row due later is not sent at commit; the maintenance relay sends it when due within this. */
export const MAX_SQS_DELAY_SECONDS = 900;

/** The furthest ahead a task may be enqueued (`delay` / `runAt`): a year and a day catches seconds given as milliseconds. */
export const MAX_RUN_AHEAD_SECONDS = 366 * 24 * 3600;

/** Seconds added to a queue's hard timeout to make its worker's Lambda timeout. */
export const FUNCTION_TIMEOUT_MARGIN_SECONDS = 30;

/** The largest hard timeout a queue may have: Lambda's 900 s minus the function timeout margin. */
export const MAX_QUEUE_HARD_TIMEOUT_SECONDS = MAX_TIMEOUT_SECONDS - FUNCTION_TIMEOUT_MARGIN_SECONDS;

/** A queue's hard timeout when none is given, in seconds. */
export const DEFAULT_QUEUE_HARD_TIMEOUT_SECONDS = 300;

/** Seconds kept free at the end of a Lambda invocation: a task starts only if its hard timeout plus this fits. */
export const DEADLINE_MARGIN_SECONDS = 10;

/** How many times a message is re-sent for lack of time before its task is recorded FAILED. */
export const MAX_DEADLINE_RESENDS = 3;

/** The SQS message attribute that counts deadline re-sends of one message. */
export const RESENDS_ATTRIBUTE = 'lambda_tasks_resends';

/** How often the scheduled rule sends the maintenance event to the default queue's worker, in minutes. */
export const MAINTENANCE_SCHEDULE_MINUTES = 5;

/** The event the scheduled rule sends to the default queue's worker. */
export const MAINTENANCE_EVENT = { lambdaTasks: 'maintenance', v: 1 } as const;

/** Whether an event is the scheduled maintenance event `{ "lambdaTasks": "maintenance", "v": 1 }`. */
export function isMaintenanceEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { lambdaTasks?: unknown }).lambdaTasks === 'maintenance';
}

/** The workers' variable with the metrics settings the construct chose (`{"namespace":…,"service":…}`); no metrics without it. */
export const METRICS_ENV = 'LAMBDA_TASKS_METRICS';

/** Where the workers' metrics go: the CloudWatch namespace and the `service` dimension (one per LambdaTasksQueue). */
export interface MetricsSettings {
  readonly namespace: string;
  readonly service: string;
}

/** The CloudWatch namespace of the task metrics unless `metricsNamespace` says otherwise. */
export const DEFAULT_METRICS_NAMESPACE = 'CdkLambdaTasks';

/** The metric names the workers emit and the construct's dashboard reads. */
export const METRIC_NAMES = { tasks: 'Tasks', duration: 'TaskDuration', resends: 'TaskResends' } as const;

/** The statuses the `Tasks` metric is counted by (an attempt's outcome). */
export const OUTCOME_STATUSES = ['SUCCESS', 'FAILED', 'RETRYING'] as const;

/** The default worker's variable holding the construct's `schedules` (name → task and kwargs), checked at cold start. */
export const SCHEDULES_ENV = 'LAMBDA_TASKS_SCHEDULES';

/** A schedule's name: an EventBridge Scheduler schedule name (up to 64 of letters, digits, `.`, `_`, `-`). */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** What a schedule runs: the construct writes it into {@link SCHEDULES_ENV} and into each schedule's event. */
export interface ScheduledInvocation {
  readonly task: string;
  readonly kwargs: Record<string, unknown>;
}

/**
 * The event an EventBridge Scheduler schedule sends to the default worker (version 1). `scheduledTime` is the
 * tick's time, filled in by the scheduler; the same tick delivered twice has the same one.
 */
export interface ScheduleEvent extends ScheduledInvocation {
  readonly lambdaTasks: 'schedule';
  readonly v: 1;
  readonly schedule: string;
  readonly scheduledTime: string;
}

/** The scheduler's placeholder for the tick's time (`<aws.scheduler.scheduled-time>`). */
export const SCHEDULED_TIME_PLACEHOLDER = '<aws.scheduler.scheduled-time>';

/** The input a schedule's target sends: the event with the scheduler's time placeholder. */
export function scheduleEventInput(schedule: string, invocation: ScheduledInvocation): ScheduleEvent {
  return { lambdaTasks: 'schedule', v: 1, schedule, task: invocation.task, kwargs: invocation.kwargs, scheduledTime: SCHEDULED_TIME_PLACEHOLDER };
}

/** Whether an event claims to be a schedule event (`{ "lambdaTasks": "schedule", … }`); its fields are checked by the worker. */
export function isScheduleEvent(event: unknown): event is Record<string, unknown> {
  return typeof event === 'object' && event !== null && (event as { lambdaTasks?: unknown }).lambdaTasks === 'schedule';
}

/** A Secrets Manager reference: which secret, which JSON key, which version. */
export interface SecretReference {
  /** The secret's full ARN (seven colon-separated segments). */
  readonly arn: string;
  /** The key of the secret's JSON object to read. */
  readonly jsonKey: string;
  /**
   * The version stage; with neither stage nor id, AWSCURRENT.
   * @default ''
   */
  readonly versionStage?: string;
  /**
   * The version id.
   * @default ''
   */
  readonly versionId?: string;
}

const ARN_SEGMENTS = 7;
const REFERENCE_SEGMENTS = 10;

/** Checks a secret ARN: `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`; returns the fault, or null. */
function arnFault(arn: string): string | null {
  const parts = arn.split(':');
  if (parts.length !== ARN_SEGMENTS) return `the ARN must have ${ARN_SEGMENTS} colon-separated segments, got ${parts.length}`;
  const [prefix, partition, service, region, account, kind, name] = parts;
  if (prefix !== 'arn' || !partition || service !== 'secretsmanager' || kind !== 'secret') {
    return 'the ARN must look like arn:aws:secretsmanager:<region>:<account>:secret:<name>';
  }
  if (!region || !/^\d{12}$/.test(account) || !name) return 'the ARN needs a region, a 12-digit account and a secret name';
  return null;
}

/**
 * Formats a reference as `<arn>:<json-key>:<version-stage>:<version-id>` (ten segments; stage and id
 * may be empty). The construct writes `LAMBDA_TASKS_SECRET_*` with it; `parseSecretReference` reads it back.
 */
export function formatSecretReference(reference: SecretReference): string {
  const fault = arnFault(reference.arn);
  // Unresolved CDK tokens (${Token[...]}) are checked at deploy time, not here.
  if (fault && !reference.arn.includes('${Token[')) throw new SecretResolutionError('arn', fault);
  if (!reference.jsonKey || reference.jsonKey.includes(':')) throw new SecretResolutionError('jsonKey', 'must be a non-empty JSON key without ":"');
  for (const [field, value] of [['versionStage', reference.versionStage], ['versionId', reference.versionId]] as const) {
    if (value?.includes(':')) throw new SecretResolutionError(field, 'must not contain ":"');
  }
  return [reference.arn, reference.jsonKey, reference.versionStage ?? '', reference.versionId ?? ''].join(':');
}

/** Parses a reference value; the error names the variable and the fault (never a value). */
export function parseSecretReference(variable: string, value: string): SecretReference {
  const parts = value.split(':');
  if (parts.length !== REFERENCE_SEGMENTS) {
    throw new SecretResolutionError(variable, `expected <arn>:<json-key>:<version-stage>:<version-id> (exactly ${REFERENCE_SEGMENTS} colon-separated segments), got ${parts.length}`);
  }
  const arn = parts.slice(0, ARN_SEGMENTS).join(':');
  const fault = arnFault(arn);
  if (fault) throw new SecretResolutionError(variable, fault);
  const [jsonKey, versionStage, versionId] = parts.slice(ARN_SEGMENTS);
  if (!jsonKey) throw new SecretResolutionError(variable, 'the JSON key is empty');
  return { arn, jsonKey, versionStage, versionId };
}
