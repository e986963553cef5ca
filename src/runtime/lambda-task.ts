import type { EntityManager } from '@mikro-orm/core';
import type * as zc from 'zod/v4/core';
import { makeValidator } from './arguments';
import { getLambdaTasksConfig, getQueueSettings } from './config';
import { MAX_TIMEOUT_SECONDS } from './contract';
import { checkDefinition, fingerprintOf } from './definition';
import { executeOnCommit, executeOnCommitOnce, serializeInvocation } from './enqueue';
import { findEntityManager } from './entity-manager';
import { LambdaTasksError } from './errors';
import { taskLogger } from './logger';
import { registerTask, type RegisteredTask } from './registry';
import type { DirectCallOptions, ExecuteOnCommitOnceOptions, ExecuteOnCommitOptions, LambdaTask, LambdaTaskOptions, ResolvedTaskOptions, TaskArgsSchema, TaskFunction } from './task-types';
import { resolveTimeouts } from './timeouts';
import type { TaskContext } from './types';

/**
 * Defines a task: a function with a zod object schema for its arguments.
 *
 * @example
 * import { z } from 'zod';
 * import { lambdaTask } from 'cdk-lambda-tasks/runtime';
 *
 * export const sendWelcomeEmail = lambdaTask(
 *   { name: 'emails.sendWelcomeEmail', args: z.object({ userId: z.number().int(), template: z.string() }) },
 *   async ({ userId, template }, ctx) => {
 *     ctx.logger.info('sending %s to user %d', template, userId);
 *     return 'sent';
 *   },
 * );
 *
 * const id = sendWelcomeEmail.executeOnCommit({ userId: 42, template: 'welcome' }, { em });
 * await em.flush(); // the message is sent after this commits
 */
export function lambdaTask<S extends TaskArgsSchema, R>(options: LambdaTaskOptions<S>, fn: TaskFunction<S, R>): LambdaTask<S, R> {
  checkDefinition(options, fn);
  const name = options.name;
  const queue = options.queue ?? 'default';
  const given = { softTimeout: options.softTimeout, hardTimeout: options.hardTimeout };
  const validate = makeValidator(name, options.args);

  const direct = async (args: zc.input<S>, callOptions?: DirectCallOptions): Promise<Awaited<R>> => {
    const { output } = validate(args);
    // Runs without an EntityManager too (task logic is unit-testable without a database); reading ctx.em then says how to give one.
    const em = findEntityManager(callOptions?.em);
    const ctx: TaskContext = {
      get em(): EntityManager {
        if (!em) throw new LambdaTasksError(`${name}(): ctx.em: this direct call has no EntityManager: pass { em }, or call it inside em.transactional(...) or a RequestContext`);
        return em;
      },
      taskId: null,
      rootId: null,
      taskName: name,
      attempt: 1,
      signal: new AbortController().signal,
      logger: taskLogger,
    };
    return (await fn(output as zc.output<S>, ctx)) as Awaited<R>;
  };
  const callable = Object.assign(direct, {
    schema: options.args,
    executeOnCommit: (args: zc.input<S>, opts?: ExecuteOnCommitOptions): string => executeOnCommit(registered, args, opts),
    executeOnCommitOnce: (args: zc.input<S>, opts: ExecuteOnCommitOnceOptions): Promise<string> => executeOnCommitOnce(registered, args, opts),
    serialize: (args: zc.input<S>, opts?: { readonly delay?: number }) => serializeInvocation(registered, args, opts),
  }) as unknown as LambdaTask<S, R>;

  const registered: RegisteredTask = {
    name,
    schema: options.args,
    queue,
    given,
    ignoreErrors: [...(options.ignoreErrors ?? [])],
    retry: { on: [...(options.retryOn ?? [])], maxRetries: options.maxRetries ?? 3, delay: options.retryDelay ?? 10 },
    singletonKey: options.singleton
      ? (args: unknown) => `lambda-tasks:${name}:${typeof options.singleton === 'function' ? options.singleton(args as zc.output<S>) : ''}`
      : undefined,
    retrySingleton: options.retrySingleton ?? true,
    fn: fn as RegisteredTask['fn'],
    fingerprint: fingerprintOf(options, fn),
    callable: callable as unknown as LambdaTask<TaskArgsSchema, unknown>,
    validate,
    resolveTimeouts() {
      const config = getLambdaTasksConfig();
      return resolveTimeouts(name, given, {
        defaultSoftTimeout: config.defaultSoftTimeout,
        defaultHardTimeout: config.defaultHardTimeout,
        queueMaxHardTimeout: getQueueSettings(queue).maxHardTimeout ?? MAX_TIMEOUT_SECONDS,
        queue,
      });
    },
  };
  Object.defineProperty(callable, 'name', { value: name });
  Object.defineProperty(callable, 'options', {
    get: (): ResolvedTaskOptions => ({ name, queue, ignoreErrors: registered.ignoreErrors, ...registered.resolveTimeouts() }),
  });
  registerTask(registered);
  return callable;
}
