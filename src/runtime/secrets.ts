import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerSdk } from './aws-sdk';
import { parseSecretReference, SECRET_ENV_PREFIX, type SecretReference } from './contract';
import { SecretResolutionError } from './errors';

interface Target { readonly name: string; readonly variable: string; readonly reference: SecretReference }

/** Names this process wrote, so a second resolution neither calls nor complains that NAME is set. */
const written = new Set<string>();
const cache = new Map<string, Promise<Record<string, unknown>>>();

/** Forgets the cache and the names written (tests). */
export function resetSecretCache(): void {
  written.clear();
  cache.clear();
}

function versionOf(reference: SecretReference): { VersionStage?: string; VersionId?: string } {
  if (!reference.versionStage && !reference.versionId) return { VersionStage: 'AWSCURRENT' };
  return {
    ...(reference.versionStage ? { VersionStage: reference.versionStage } : {}),
    ...(reference.versionId ? { VersionId: reference.versionId } : {}),
  };
}

async function fetchSecret(client: SecretsManagerClient, variable: string, reference: SecretReference): Promise<Record<string, unknown>> {
  let response;
  try {
    response = await client.send(new (secretsManagerSdk().GetSecretValueCommand)({ SecretId: reference.arn, ...versionOf(reference) }));
  } catch (error) {
    throw new SecretResolutionError(variable, `GetSecretValue failed for ${reference.arn}: ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
  }
  if (response.SecretString === undefined) throw new SecretResolutionError(variable, `secret ${reference.arn} is binary; it must be a JSON object string`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.SecretString);
  } catch {
    throw new SecretResolutionError(variable, `secret ${reference.arn} is not valid JSON; it must be a JSON object`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretResolutionError(variable, `secret ${reference.arn} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Options of {@link resolveSecretsIntoEnv}. */
export interface ResolveSecretsOptions {
  /**
   * The Secrets Manager client.
   * @default - a client from the SDK's default chain
   */
  readonly client?: SecretsManagerClient;
  /**
   * The environment to read references from and write values into.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Resolves every `LAMBDA_TASKS_SECRET_<NAME>=<arn>:<json-key>:<stage>:<id>` into `NAME`: validates all
 * references first (a malformed one throws, so the container fails to start), makes one
 * `GetSecretValue` per (ARN, stage, id), concurrently, and caches them in-process. `createHandler`
 * calls it at cold start, before building the ORM config.
 *
 * @example
 * // LAMBDA_TASKS_SECRET_DB_PASSWORD=arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::
 * import { resolveSecretsIntoEnv } from 'cdk-lambda-tasks/runtime';
 * await resolveSecretsIntoEnv();
 * console.log(process.env.DB_PASSWORD !== undefined); // true
 */
export async function resolveSecretsIntoEnv(options: ResolveSecretsOptions = {}): Promise<string[]> {
  const env = options.env ?? process.env;
  const targets: Target[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(SECRET_ENV_PREFIX) || value === undefined) continue;
    const name = variable.slice(SECRET_ENV_PREFIX.length);
    if (!name) throw new SecretResolutionError(variable, 'names no variable: use LAMBDA_TASKS_SECRET_<NAME>');
    targets.push({ name, variable, reference: parseSecretReference(variable, value) });
  }
  const conflicts = targets.filter((t) => env[t.name] !== undefined && !written.has(t.name));
  if (conflicts.length > 0) {
    throw new SecretResolutionError(
      conflicts.map((t) => t.variable).join(', '),
      `${conflicts.map((t) => t.name).join(', ')} ${conflicts.length === 1 ? 'is' : 'are'} also set in the environment: set one or the other`,
    );
  }
  const pending = targets.filter((t) => !written.has(t.name));
  if (pending.length === 0) return [];
  const client = options.client ?? new (secretsManagerSdk().SecretsManagerClient)({});
  const groupKey = (r: SecretReference) => JSON.stringify([r.arn, versionOf(r)]);
  for (const target of pending) {
    const key = groupKey(target.reference);
    if (!cache.has(key)) {
      const promise = fetchSecret(client, target.variable, target.reference);
      promise.catch(() => cache.delete(key)); // a failure is not cached
      cache.set(key, promise);
    }
  }
  const values = await Promise.all(pending.map((t) => cache.get(groupKey(t.reference))!));
  pending.forEach((target, i) => {
    const secret = values[i];
    if (!Object.hasOwn(secret, target.reference.jsonKey)) {
      throw new SecretResolutionError(target.variable, `secret ${target.reference.arn} has no key "${target.reference.jsonKey}"`);
    }
    const value = secret[target.reference.jsonKey];
    env[target.name] = typeof value === 'string' ? value : JSON.stringify(value);
    written.add(target.name);
  });
  return pending.map((t) => t.name);
}
