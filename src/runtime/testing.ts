/**
 * Helpers for your own test suites (`cdk-lambda-tasks/runtime/testing`).
 */
import { resetLambdaTasksConfig } from './config';
import { clearTaskRegistry } from './task';

/**
 * Empties the task registry, so a test can define tasks again from scratch.
 *
 * @example
 * import { resetTaskRegistry } from 'cdk-lambda-tasks/runtime/testing';
 * afterEach(() => resetTaskRegistry());
 */
export function resetTaskRegistry(): void {
  clearTaskRegistry();
}

/** Forgets `configureLambdaTasks()` options so the next use reads the environment again. */
export function resetLambdaTasksConfiguration(): void {
  resetLambdaTasksConfig();
}
