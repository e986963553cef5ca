// cdk-lambda-tasks/runtime — what an app and its worker call, and their types. Never imports aws-cdk-lib or constructs.

// Defining and enqueueing tasks
export { lambdaTask } from './lambda-task';
export type {
  DirectCallOptions,
  ExecuteOnCommitOnceOptions,
  ExecuteOnCommitOptions,
  LambdaTask,
  LambdaTaskOptions,
  ResolvedTaskOptions,
  TaskArgsSchema,
  TaskFunction,
} from './task-types';
export type { ErrorClass, QueueSettings, ResolvedTimeouts, TaskContext } from './types';
export { TaskInvocation } from './invocation';
export type { SerializedInvocation } from './message';
export { taskLogger } from './logger';
export type { TaskLogger } from './logger';

// Configuration and the MikroORM setup
export { configureLambdaTasks } from './config';
export type { LambdaTasksOptions } from './config';
export { withLambdaTasks } from './with-lambda-tasks';
export type { LambdaTasksMikroOrmOptions } from './with-lambda-tasks';

// Task records
export { TaskRecord, TaskStatus } from './record';
export { getTask, waitForTask } from './polling';
export { cancelTask } from './cancel';
export { retryTask } from './replay';
export type { WaitForTaskOptions } from './polling';

// The worker
export { createHandler } from './handler';
export type { CreateHandlerOptions, HandlerResponse, MaintenanceResponse, TaskHandler } from './handler';
export type { ScheduleResponse } from './schedules';
export type { LambdaContextLike, SqsBatchResponse, SqsEventLike, SqsRecordLike } from './types';
export { runLocalWorker } from './local-worker';
export type { LocalWorkerOptions, LocalWorkerStats } from './local-worker';
export { resolveSecretsIntoEnv } from './secrets';
export type { ResolveSecretsOptions } from './secrets';

// Maintenance
export { runMaintenance } from './maintenance';
export type { MaintenanceOptions, MaintenanceResult, MaintenanceStepResult } from './maintenance';
export { relayQueuedTasks } from './relay';
export type { RelayOptions, RelayResult } from './relay';
export { sweepLostTasks } from './sweep';
export type { SweepOptions, SweepResult } from './sweep';
export { reconcileDeadLetters } from './dead-letters';
export type { ReconcileOptions, ReconcileResult } from './dead-letters';
export { cleanupTaskRecords, cleanupTaskRecordsTask } from './cleanup';
export type { CleanupOptions, CleanupResult } from './cleanup';

// Errors
export {
  ConfigurationError,
  HardTimeLimitExceeded,
  IdempotencyKeyConflictError,
  LambdaTasksError,
  NonRetriableError,
  SecretResolutionError,
  SoftTimeLimitExceeded,
  TaskDefinitionError,
  TaskDispatchError,
  TaskStateError,
  TaskNotRegisteredError,
  TaskValidationError,
  TimeoutRangeError,
} from './errors';
