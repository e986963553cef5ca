import type { EntityManager } from '@mikro-orm/core';
import { TaskNotRegisteredError, TaskValidationError } from './errors';
import { serializedInvocationSchema, type SerializedInvocation } from './message';
import { findTask } from './registry';
import type { LambdaTask, TaskArgsSchema } from './task-types';
import { formatZodIssues } from './zod-issues';

/**
 * A validated serialized invocation (django-lambda-tasks' `SQSLambdaTask`): parse the JSON that
 * `task.serialize()` returned and enqueue it later.
 *
 * @example
 * import { TaskInvocation } from 'cdk-lambda-tasks/runtime';
 * const payload = sendWelcomeEmail.serialize({ userId: 42, template: 'welcome' });
 * const id = TaskInvocation.parse(JSON.parse(JSON.stringify(payload))).executeOnCommit({ em });
 */
export class TaskInvocation {
  /** Validates a payload (structure, registered task, queue, arguments). */
  public static parse(payload: unknown): TaskInvocation {
    const parsed = serializedInvocationSchema.safeParse(payload);
    if (!parsed.success) {
      const text = formatZodIssues(parsed.error.issues, 'payload');
      throw new TaskValidationError('?', 'payload', `${text}; expected { message: { task_name, kwargs }, delay, queue }`);
    }
    const { message, delay, queue } = parsed.data;
    const task = findTask(message.task_name);
    if (!task) throw new TaskNotRegisteredError(message.task_name);
    if (queue !== task.queue) {
      throw new TaskValidationError(task.name, 'queue', `the payload says "${queue}" but the task is defined on "${task.queue}" (per-call queues are not supported)`);
    }
    task.validate(message.kwargs, 'message.kwargs');
    return new TaskInvocation(message.task_name, message.kwargs, delay, queue);
  }

  private constructor(
    /** The task name. */
    public readonly taskName: string,
    /** The arguments as JSON. */
    public readonly kwargs: Record<string, unknown>,
    /** Seconds of delay. */
    public readonly delay: number,
    /** The queue name. */
    public readonly queue: string,
  ) {}

  /** Enqueues it like `task.executeOnCommit(kwargs, { em, delay })` and returns the task id. */
  public executeOnCommit(options: { readonly em?: EntityManager } = {}): string {
    return this.task().executeOnCommit(this.kwargs, { em: options.em, delay: this.delay });
  }

  /** The payload again, as `task.serialize()` returns it. */
  public toJSON(): SerializedInvocation {
    return { message: { task_name: this.taskName, kwargs: this.kwargs }, delay: this.delay, queue: this.queue };
  }

  private task(): LambdaTask<TaskArgsSchema, unknown> {
    const task = findTask(this.taskName);
    if (!task) throw new TaskNotRegisteredError(this.taskName);
    return task.callable;
  }
}
