// The workers' entry: LambdaTasksQueue bundles this file once per queue.
import { ormConfig } from './orm-config';
import * as tasks from './tasks';
import { createHandler } from '../../src/runtime'; // 'cdk-lambda-tasks/runtime'

export const handler = createHandler({ tasks, ormConfig, concurrency: 1 });
