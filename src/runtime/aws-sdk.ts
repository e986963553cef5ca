/**
 * The AWS SDK clients, loaded when first used rather than when the runtime is imported: a worker that runs
 * its tasks without sending, re-sending or reading a secret never loads them, which is most of what a cold
 * start would otherwise spend on the SDK (they are left out of the bundle and come from the Lambda runtime).
 */
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import type * as Sqs from '@aws-sdk/client-sqs';

/** `@aws-sdk/client-sqs`, loaded on first use. */
export function sqsSdk(): typeof Sqs {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-sqs') as typeof Sqs;
}

/** `@aws-sdk/client-secrets-manager`, loaded on first use. */
export function secretsManagerSdk(): typeof SecretsManager {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-secrets-manager') as typeof SecretsManager;
}
