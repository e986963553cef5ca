// cdk-lambda-tasks/runtime — never imports aws-cdk-lib or constructs.
export { configureLambdaTasks, getLambdaTasksConfig } from './config';
export type { LambdaTasksOptions, ResolvedLambdaTasksConfig } from './config';
export {
  ConfigurationError,
  HardTimeLimitExceeded,
  LambdaTasksError,
  NonRetriableError,
  SoftTimeLimitExceeded,
  TaskDefinitionError,
  TaskDispatchError,
  TaskNotRegisteredError,
  TaskValidationError,
  TimeoutRangeError,
} from './errors';
export { createHandler } from './handler';
export type { CreateHandlerOptions, HandlerResponse, LambdaContextLike, MaintenanceResponse, SqsBatchResponse, SqsEventLike, SqsRecordLike, TaskHandler } from './handler';
export { TaskInvocation } from './invocation';
export { runLocalWorker } from './local-worker';
export type { LocalWorkerOptions, LocalWorkerStats } from './local-worker';
export { taskLogger } from './logger';
export type { TaskLogger } from './logger';
export { cleanupTaskRecords, cleanupTaskRecordsTask, reconcileDeadLetters, relayQueuedTasks, runMaintenance, sweepLostTasks } from './maintenance';
export type { CleanupOptions, MaintenanceOptions, MaintenanceStepResult, ReconcileOptions, ReconcileResult, RelayOptions, RelayResult, SweepOptions } from './maintenance';
export { MAINTENANCE_EVENT } from './message';
export type { SerializedInvocation } from './message';
export { getTask, waitForTask } from './polling';
export type { WaitForTaskOptions } from './polling';
export { TaskRecord, TaskRecordSchema, TaskStatus } from './record';
export { formatSecretReference, parseSecretReference, SECRET_ENV_PREFIX, SecretResolutionError } from './secret-reference';
export { resolveSecretsIntoEnv } from './secrets';
export type { SecretReference } from './secret-reference';
export type { ResolveSecretsOptions } from './secrets';
export { lambdaTask } from './task';
export type {
  DirectCallOptions,
  ExecuteOnCommitOnceOptions,
  ExecuteOnCommitOptions,
  LambdaTask,
  LambdaTaskOptions,
  ResolvedTaskOptions,
  TaskArgsSchema,
  TaskFunction,
} from './task';
export type { ErrorClass, QueueSettings, ResolvedTimeouts, TaskContext } from './types';
export { TaskDispatchSubscriber } from './dispatch';
export { withLambdaTasks } from './with-lambda-tasks';
export type { LambdaTasksOptionsAdded } from './with-lambda-tasks';
export type { OutgoingTask } from './send';
