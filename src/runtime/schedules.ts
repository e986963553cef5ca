/**
 * Scheduled tasks: the construct's `schedules` checked when the worker starts, and the schedule event turned
 * into one task per tick (through the outbox, idempotent per schedule, task and scheduled time).
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod/v4';
import { SCHEDULE_NAME_PATTERN, SCHEDULES_ENV, type ScheduledInvocation } from './contract';
import { executeOnCommitOnce } from './enqueue';
import { ConfigurationError, TaskNotRegisteredError, toError } from './errors';
import { libraryLog } from './logger';
import { findByIdempotencyKey } from './records/find-by-idempotency-key';
import { findTask } from './registry';
import { formatZodIssues } from './zod-issues';

const scheduleEventSchema = z.strictObject({
  lambdaTasks: z.literal('schedule'),
  v: z.literal(1),
  schedule: z.string().regex(SCHEDULE_NAME_PATTERN),
  task: z.string().min(1),
  kwargs: z.record(z.string(), z.unknown()),
  scheduledTime: z.iso.datetime({ offset: true }),
});

/** What a schedule event did: the task it enqueued for its tick (the same id when the tick comes twice). */
export interface ScheduleResponse {
  readonly schedule: { readonly name: string; readonly scheduledTime: string; readonly taskId: string };
}

/** Why a schedule cannot run, or undefined when its task is registered here and its kwargs are valid. */
function problemOf(invocation: ScheduledInvocation): string | undefined {
  const task = findTask(invocation.task);
  if (!task) return `task "${invocation.task}" is not registered in this worker: pass it to createHandler({ tasks })`;
  try {
    task.validate(invocation.kwargs, 'kwargs');
    return undefined;
  } catch (error) {
    return toError(error).message;
  }
}

/**
 * Checks the construct's schedules ({@link SCHEDULES_ENV}, on the default worker) against this worker's tasks,
 * once, when the worker is created: each problem is logged at ERROR then, and the schedule's events are refused
 * with it. Returns the problems by schedule name.
 */
export function checkSchedules(env: NodeJS.ProcessEnv = process.env): ReadonlyMap<string, string> {
  const problems = new Map<string, string>();
  const raw = env[SCHEDULES_ENV];
  if (!raw) return problems;
  let schedules: Record<string, ScheduledInvocation>;
  try {
    schedules = JSON.parse(raw) as Record<string, ScheduledInvocation>;
  } catch (error) {
    libraryLog.error(`${SCHEDULES_ENV} is not JSON; no schedule will run`, { error: toError(error).message });
    problems.set('*', `${SCHEDULES_ENV} is not JSON`);
    return problems;
  }
  for (const [name, invocation] of Object.entries(schedules)) {
    const problem = problemOf(invocation);
    if (!problem) continue;
    problems.set(name, problem);
    libraryLog.error('schedule refused: its ticks will fail until the schedule or the task is fixed', { schedule: name, task: invocation.task, problem });
  }
  return problems;
}

/** The longest idempotency key the column holds. */
const MAX_KEY_LENGTH = 255;

/**
 * The idempotency key of a schedule's tick for a task: `schedule:<name>:<task>:<scheduledTime>`, so a schedule
 * pointed at another task gets its own key for a tick delivered again. When that would not fit in 255 characters
 * (a long schedule and task name), the task name is replaced by `#` and 32 hex digits of its SHA-256.
 */
export function scheduleIdempotencyKey(schedule: string, taskName: string, scheduledTime: Date): string {
  const time = scheduledTime.toISOString();
  const key = `schedule:${schedule}:${taskName}:${time}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `schedule:${schedule}:#${createHash('sha256').update(taskName).digest('hex').slice(0, 32)}:${time}`;
}

/** The key of a tick enqueued by a version before the task was in it (`schedule:<name>:<scheduledTime>`). */
function legacyScheduleKey(schedule: string, scheduledTime: Date): string {
  return `schedule:${schedule}:${scheduledTime.toISOString()}`;
}

/**
 * Handles one schedule event: enqueues its task through the outbox with the idempotency key of
 * {@link scheduleIdempotencyKey}, so a tick delivered twice (scheduler or Lambda retries) runs the task once,
 * also when it was first enqueued under the older key without the task name.
 * Throws (the invocation fails, loudly) for a malformed event or a schedule refused by {@link checkSchedules}.
 */
export async function runScheduleEvent(event: unknown, em: EntityManager, problems: ReadonlyMap<string, string>): Promise<ScheduleResponse> {
  const parsed = scheduleEventSchema.safeParse(event);
  if (!parsed.success) throw new ConfigurationError('event', `not a valid schedule event (version 1): ${formatZodIssues(parsed.error.issues)}`);
  const { schedule, task: taskName, kwargs, scheduledTime } = parsed.data;
  const problem = problems.get(schedule) ?? problems.get('*');
  if (problem) throw new ConfigurationError(`schedules.${schedule}`, problem);
  const task = findTask(taskName);
  if (!task) throw new TaskNotRegisteredError(taskName);
  const time = new Date(scheduledTime);
  const taskId = await em.fork().transactional(async (tem) => {
    const earlier = await findByIdempotencyKey(tem, legacyScheduleKey(schedule, time));
    if (earlier?.taskName === taskName) return earlier.id; // this tick, enqueued before an upgrade
    return executeOnCommitOnce(task, kwargs, { em: tem, key: scheduleIdempotencyKey(schedule, taskName, time) });
  });
  libraryLog.info('schedule tick enqueued', { schedule, scheduledTime, taskId, taskName });
  return { schedule: { name: schedule, scheduledTime, taskId } };
}
