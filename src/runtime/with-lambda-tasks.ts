import type { EntitySchema, Options } from '@mikro-orm/core';
import { runInProcess } from './in-process';
import { TaskDispatchSubscriber } from './outbox';
import { TASK_RECORD_TABLE, TaskRecordSchema } from './record';

type EntityEntry = NonNullable<Options['entities']>[number];
type SubscriberEntry = NonNullable<Options['subscribers']> extends Iterable<infer S> ? S : never;

/** The MikroORM options {@link withLambdaTasks} sets on a config (as arrays). */
export interface LambdaTasksMikroOrmOptions {
  entities: EntityEntry[];
  subscribers: SubscriberEntry[];
  schemaGenerator: NonNullable<Options['schemaGenerator']> & { skipTables: (string | RegExp)[] };
}

function isTaskRecordSchema(entry: unknown): boolean {
  return entry === TaskRecordSchema || (typeof entry === 'object' && entry !== null && (entry as EntitySchema).meta?.className === 'TaskRecord');
}

/**
 * Adds the `TaskRecord` entity and the after-commit dispatch subscriber (which runs tasks in this process in
 * eager mode) to a MikroORM
 * config, keeping the app's own entities and subscribers, and adds `task_record` to
 * `schemaGenerator.skipTables` so the app's `migration:create` and `schema:update` never
 * emit or drop it (apply `lambdaTasksMigrations` instead). Calling it twice changes nothing.
 *
 * @example
 * import { MikroORM } from '@mikro-orm/postgresql';
 * import { withLambdaTasks } from 'cdk-lambda-tasks/runtime';
 * const orm = await MikroORM.init(withLambdaTasks({ entities: [User], clientUrl: process.env.DATABASE_URL }));
 */
export function withLambdaTasks<O extends Partial<Options>>(options: O): O & LambdaTasksMikroOrmOptions {
  const entities: EntityEntry[] = [...(options.entities ?? [])];
  if (!entities.some(isTaskRecordSchema)) entities.push(TaskRecordSchema as EntityEntry);

  const subscribers: SubscriberEntry[] = [...(options.subscribers ?? [])];
  if (!subscribers.some((s) => s instanceof TaskDispatchSubscriber)) subscribers.push(new TaskDispatchSubscriber(runInProcess));

  const skipTables = [...(options.schemaGenerator?.skipTables ?? [])];
  if (!skipTables.includes(TASK_RECORD_TABLE)) skipTables.push(TASK_RECORD_TABLE);

  return {
    ...options,
    entities,
    subscribers,
    schemaGenerator: { ...options.schemaGenerator, skipTables },
  };
}
