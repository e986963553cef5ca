/**
 * The secret reference format (`<arn>:<json-key>:<version-stage>:<version-id>`): pure parsing and
 * formatting, shared by the runtime and the construct (which must not pull in the AWS SDK call).
 */
import { LambdaTasksError } from './errors';

/** The prefix of secret reference variables: `LAMBDA_TASKS_SECRET_<NAME>` fills `NAME`. */
export const SECRET_ENV_PREFIX = 'LAMBDA_TASKS_SECRET_';

/** A Secrets Manager reference: which secret, which JSON key, which version. */
export interface SecretReference {
  /** The secret's full ARN (seven colon-separated segments). */
  readonly arn: string;
  /** The key of the secret's JSON object to read. */
  readonly jsonKey: string;
  /**
   * The version stage; with neither stage nor id, AWSCURRENT.
   * @default ''
   */
  readonly versionStage?: string;
  /**
   * The version id.
   * @default ''
   */
  readonly versionId?: string;
}

/** Thrown at cold start when a secret reference is malformed or cannot be resolved. Never contains a secret value. */
export class SecretResolutionError extends LambdaTasksError {
  public override name = 'SecretResolutionError';
  /** The variable at fault, e.g. `LAMBDA_TASKS_SECRET_DB_PASSWORD`. */
  public readonly variable: string;
  public constructor(variable: string, message: string, options?: { cause?: unknown }) {
    super(`${variable}: ${message}`, options);
    this.variable = variable;
  }
}

const ARN_SEGMENTS = 7;
const REFERENCE_SEGMENTS = 10;

/** Checks a secret ARN: `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`; returns the fault, or null. */
function arnFault(arn: string): string | null {
  const parts = arn.split(':');
  if (parts.length !== ARN_SEGMENTS) return `the ARN must have ${ARN_SEGMENTS} colon-separated segments, got ${parts.length}`;
  const [prefix, partition, service, region, account, kind, name] = parts;
  if (prefix !== 'arn' || !partition || service !== 'secretsmanager' || kind !== 'secret') {
    return 'the ARN must look like arn:aws:secretsmanager:<region>:<account>:secret:<name>';
  }
  if (!region || !/^\d{12}$/.test(account) || !name) return 'the ARN needs a region, a 12-digit account and a secret name';
  return null;
}

/**
 * Formats a reference as `<arn>:<json-key>:<version-stage>:<version-id>` (ten segments; stage and id
 * may be empty). The construct writes `LAMBDA_TASKS_SECRET_*` with it; `parseSecretReference` reads it back.
 */
export function formatSecretReference(reference: SecretReference): string {
  const fault = arnFault(reference.arn);
  // Unresolved CDK tokens (${Token[...]}) are checked at deploy time, not here.
  if (fault && !reference.arn.includes('${Token[')) throw new SecretResolutionError('arn', fault);
  if (!reference.jsonKey || reference.jsonKey.includes(':')) throw new SecretResolutionError('jsonKey', 'must be a non-empty JSON key without ":"');
  for (const [field, value] of [['versionStage', reference.versionStage], ['versionId', reference.versionId]] as const) {
    if (value?.includes(':')) throw new SecretResolutionError(field, 'must not contain ":"');
  }
  return [reference.arn, reference.jsonKey, reference.versionStage ?? '', reference.versionId ?? ''].join(':');
}

/** Parses a reference value; the error names the variable and the fault (never a value). */
export function parseSecretReference(variable: string, value: string): SecretReference {
  const parts = value.split(':');
  if (parts.length !== REFERENCE_SEGMENTS) {
    throw new SecretResolutionError(variable, `expected <arn>:<json-key>:<version-stage>:<version-id> (exactly ${REFERENCE_SEGMENTS} colon-separated segments), got ${parts.length}`);
  }
  const arn = parts.slice(0, ARN_SEGMENTS).join(':');
  const fault = arnFault(arn);
  if (fault) throw new SecretResolutionError(variable, fault);
  const [jsonKey, versionStage, versionId] = parts.slice(ARN_SEGMENTS);
  if (!jsonKey) throw new SecretResolutionError(variable, 'the JSON key is empty');
  return { arn, jsonKey, versionStage, versionId };
}
