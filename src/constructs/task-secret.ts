import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { formatSecretReference } from '../runtime/contract';

/** Which version of a secret to read. */
export interface TaskSecretVersion {
  /**
   * The version stage.
   * @default - AWSCURRENT (when neither stage nor id is given)
   */
  readonly versionStage?: string;
  /**
   * The version id.
   * @default - none
   */
  readonly versionId?: string;
}

/**
 * A key of a Secrets Manager secret that the workers receive as an environment variable, resolved at
 * cold start (`LAMBDA_TASKS_SECRET_<NAME>`).
 *
 * @example
 * new LambdaTasksQueue(stack, 'Tasks', { entry: 'src/worker.ts', secrets: { DB_PASSWORD: TaskSecret.fromSecret(db.secret!, 'password') } });
 */
export class TaskSecret {
  /** A JSON key of a secret. */
  public static fromSecret(secret: ISecret, jsonKey: string, version: TaskSecretVersion = {}): TaskSecret {
    return new TaskSecret(secret, jsonKey, version);
  }

  private constructor(
    /** The secret. */
    public readonly secret: ISecret,
    /** The key of its JSON object. */
    public readonly jsonKey: string,
    /** The version. */
    public readonly version: TaskSecretVersion,
  ) {}

  /** The reference the runtime parses: `<arn>:<json-key>:<version-stage>:<version-id>`. */
  public reference(): string {
    return formatSecretReference({ arn: this.secret.secretArn, jsonKey: this.jsonKey, ...this.version });
  }

  /** Lets the grantee read the secret (and decrypt it with a customer key). */
  public grantRead(grantee: IGrantable): void {
    this.secret.grantRead(grantee);
  }
}
