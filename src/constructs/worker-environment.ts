import type { TaskSecret } from './task-secret';
import { ENABLE_SOURCE_MAPS } from './worker-bundling';
import { METRICS_ENV, QUEUES_ENV, SCHEDULES_ENV, SECRET_ENV_PREFIX } from '../runtime/contract';

/**
 * Set to `true` on every worker: in a bundle MikroORM's package-version check reads whatever package.json
 * lies two folders up and can refuse to start; the versions are fixed at bundling time, so there is nothing to check.
 */
const MIKRO_ORM_VERSION_CHECK_ENV = 'MIKRO_ORM_ALLOW_VERSION_MISMATCH';

/** The variables the construct sets on every worker, besides `LAMBDA_TASKS_SECRET_*` (refused in the user's environments). */
export const CONSTRUCT_ENVIRONMENT_NAMES: readonly string[] = [QUEUES_ENV, SCHEDULES_ENV, METRICS_ENV, MIKRO_ORM_VERSION_CHECK_ENV];

/** What one worker's environment is built from. */
export interface WorkerEnvironmentSources {
  /** The construct's `environment`, shared by every worker. */
  readonly shared: Readonly<Record<string, string>>;
  /** The queue's own `environment`, merged over the shared one. */
  readonly queue: Readonly<Record<string, string>>;
  /** `LAMBDA_TASKS_QUEUES` (a token string). */
  readonly queuesJson: string;
  /** The secrets, by the variable they fill. */
  readonly secrets: Readonly<Record<string, TaskSecret>>;
  /** Whether the bundle has a source map: then `NODE_OPTIONS` gets `--enable-source-maps`. */
  readonly sourceMap: boolean;
  /** `LAMBDA_TASKS_SCHEDULES` (the default worker, when there are schedules). */
  readonly schedulesJson?: string;
  /** `LAMBDA_TASKS_METRICS`: the metrics namespace and service. */
  readonly metricsJson: string;
}

/** `NODE_OPTIONS` with `--enable-source-maps` appended (once) to what the user set. */
function withSourceMaps(nodeOptions: string | undefined): string {
  if (!nodeOptions) return ENABLE_SOURCE_MAPS;
  return nodeOptions.split(/\s+/).includes(ENABLE_SOURCE_MAPS) ? nodeOptions : `${nodeOptions} ${ENABLE_SOURCE_MAPS}`;
}

/**
 * One worker's environment: the shared variables, the queue's over them, then the construct's own
 * (`MIKRO_ORM_ALLOW_VERSION_MISMATCH`, `LAMBDA_TASKS_QUEUES`, `LAMBDA_TASKS_METRICS`, `LAMBDA_TASKS_SCHEDULES` on the default worker, `LAMBDA_TASKS_SECRET_*`) and, with a
 * source map, `NODE_OPTIONS=--enable-source-maps` (appended to the user's `NODE_OPTIONS`). The names are
 * checked by `validateEnvironmentNames` and `validateSecretNames` first.
 */
export function workerEnvironment(sources: WorkerEnvironmentSources): Record<string, string> {
  const user = { ...sources.shared, ...sources.queue };
  return {
    ...user,
    [MIKRO_ORM_VERSION_CHECK_ENV]: 'true',
    [QUEUES_ENV]: sources.queuesJson,
    [METRICS_ENV]: sources.metricsJson,
    ...(sources.schedulesJson ? { [SCHEDULES_ENV]: sources.schedulesJson } : {}),
    ...Object.fromEntries(Object.entries(sources.secrets).map(([name, secret]) => [`${SECRET_ENV_PREFIX}${name}`, secret.reference()])),
    ...(sources.sourceMap ? { NODE_OPTIONS: withSourceMaps(user.NODE_OPTIONS) } : {}),
  };
}
