// README, Quick start 5: the Lambda handler of every queue's worker.
import { defineConfig } from '@mikro-orm/postgresql';
import { createHandler } from 'cdk-lambda-tasks/runtime';
import * as tasks from './tasks';
import { UserSchema } from './user';

export const handler = createHandler({
  tasks,                                        // explicit: an `import './tasks'` could be tree-shaken away
  ormConfig: () => defineConfig({ clientUrl: process.env.DATABASE_URL, entities: [UserSchema] }),
  concurrency: 1,                               // records of a batch run at once (pool: concurrency + 1)
});
