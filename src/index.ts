// cdk-lambda-tasks — the CDK constructs. The runtime is at 'cdk-lambda-tasks/runtime'.
export { MAINTENANCE_SCHEDULE_MINUTES } from './constructs/constants';
export { deriveQueueSettings, FUNCTION_TIMEOUT_MARGIN_SECONDS, MAX_QUEUE_HARD_TIMEOUT_SECONDS } from './constructs/derived-settings';
export type { DerivedQueueSettings, QueueSettingsInput } from './constructs/derived-settings';
export { LambdaTasksQueue } from './constructs/lambda-tasks-queue';
export type { LambdaTasksQueueProps, TaskQueue, TaskQueueOptions } from './constructs/lambda-tasks-queue';
export { TaskSecret } from './constructs/task-secret';
export type { TaskSecretVersion } from './constructs/task-secret';
export { WORKER_EXTERNAL_MODULES } from './constructs/worker';
