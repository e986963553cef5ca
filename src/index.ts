// cdk-lambda-tasks — the CDK constructs (what a CDK app needs). The runtime is at 'cdk-lambda-tasks/runtime'.
export { LambdaTasksQueue } from './constructs/lambda-tasks-queue';
export type { LambdaTasksQueueProps } from './constructs/lambda-tasks-queue-props';
export type { TaskScheduleOptions } from './constructs/task-schedules';
export { TaskSecret } from './constructs/task-secret';
export type { TaskSecretVersion } from './constructs/task-secret';
export type { TaskQueue, TaskQueueOptions } from './constructs/types';
export { WORKER_EXTERNAL_MODULES } from './constructs/worker-bundling';
