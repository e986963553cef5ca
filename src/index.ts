// cdk-lambda-tasks — the CDK constructs. The runtime is at 'cdk-lambda-tasks/runtime'.
export { MAINTENANCE_SCHEDULE_MINUTES } from './constructs/constants';
