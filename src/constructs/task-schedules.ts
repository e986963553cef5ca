import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleTargetInput, type ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { failSynth, synthError } from './synth-error';
import { SCHEDULE_NAME_PATTERN, TASK_NAME_PATTERN, scheduleEventInput, type ScheduledInvocation } from '../runtime/contract';
import { toJsonValue } from '../runtime/json-value';

/** One scheduled task of {@link LambdaTasksQueueProps.schedules}. */
export interface TaskScheduleOptions {
  /** The task's registered name (`lambdaTask({ name })`); the default worker must have it in `createHandler({ tasks })`. */
  readonly task: string;
  /** When it runs: `ScheduleExpression.cron({ minute: '0', hour: '9', timeZone })`, `.rate(Duration.hours(1))`, … */
  readonly schedule: ScheduleExpression;
  /**
   * The task's arguments (JSON), checked against its schema when the worker starts.
   * @default {}
   */
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /**
   * The schedule's description.
   * @default - "cdk-lambda-tasks: <task>"
   */
  readonly description?: string;
  /**
   * Whether the schedule is enabled.
   * @default true
   */
  readonly enabled?: boolean;
}

/** Checks one schedule's name, task name and kwargs (a JSON object), with messages naming the field. */
function checkedInvocation(name: string, options: TaskScheduleOptions): ScheduledInvocation {
  if (!SCHEDULE_NAME_PATTERN.test(name)) failSynth(`schedules: "${name}" is not a schedule name (1 to 64 of letters, digits, ".", "_", "-")`);
  if (!TASK_NAME_PATTERN.test(options.task ?? '')) failSynth(`schedules.${name}.task: "${String(options.task)}" is not a task name (as given to lambdaTask({ name }))`);
  const kwargs = options.kwargs ?? {};
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) failSynth(`schedules.${name}.kwargs: must be a plain JSON object (the task's arguments)`);
  // The same check as at enqueue: what is sent must survive a JSON round trip (no Date, Map, BigInt, …).
  const json = toJsonValue({ ...kwargs }, `schedules.${name}.kwargs`, (reason) => synthError(`${reason}; a schedule's kwargs are sent as JSON`));
  return { task: options.task, kwargs: json };
}

/**
 * One EventBridge Scheduler schedule per entry, each invoking `worker` with the versioned schedule event
 * (the task, its kwargs, the tick's time). Each target's role may invoke only that function. Returns the
 * schedules and the JSON for the worker's `LAMBDA_TASKS_SCHEDULES` (checked at its cold start).
 */
export class TaskSchedules extends Construct {
  /** The schedules, by name. */
  public readonly schedules: Record<string, Schedule> = {};
  /** name → { task, kwargs }: the default worker's `LAMBDA_TASKS_SCHEDULES`. */
  public readonly environmentJson: string;

  public constructor(scope: Construct, id: string, worker: IFunction, options: Readonly<Record<string, TaskScheduleOptions>>) {
    super(scope, id);
    const invocations: Record<string, ScheduledInvocation> = {};
    for (const [name, schedule] of Object.entries(options)) {
      const invocation = checkedInvocation(name, schedule);
      invocations[name] = invocation;
      this.schedules[name] = new Schedule(this, name, {
        schedule: schedule.schedule,
        description: schedule.description ?? `cdk-lambda-tasks: ${invocation.task}`,
        enabled: schedule.enabled ?? true,
        // A tick delivered again is enqueued once (the worker's idempotency key is the schedule and the tick's time).
        target: new LambdaInvoke(worker, { input: ScheduleTargetInput.fromObject(scheduleEventInput(name, invocation)), retryAttempts: 3, maxEventAge: Duration.hours(1) }),
      });
    }
    this.environmentJson = JSON.stringify(invocations);
  }
}
