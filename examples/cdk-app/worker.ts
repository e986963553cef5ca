// The workers' entry: LambdaTasksQueue bundles this file once per queue.
import { createHandler } from '../../src/runtime'; // 'cdk-lambda-tasks/runtime'
import { ormConfig } from './orm-config';
import * as tasks from './tasks';

export const handler = createHandler({ tasks, ormConfig, concurrency: 1 });
