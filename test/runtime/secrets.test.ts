import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { formatSecretReference, parseSecretReference } from '../../src/runtime/contract';
import { SecretResolutionError } from '../../src/runtime/errors';
import { resetSecretCache, resolveSecretsIntoEnv } from '../../src/runtime/secrets';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:myapp/prod-AbCdEf';
const OTHER_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-XyZ';

describe('Function: resolveSecretsIntoEnv()', () => {
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  const sm = mockClient(client);
  beforeEach(() => {
    sm.reset();
    resetSecretCache();
  });

  async function failure(env: NodeJS.ProcessEnv): Promise<SecretResolutionError> {
    try {
      await resolveSecretsIntoEnv({ client, env });
    } catch (error) {
      expect(error).toBeInstanceOf(SecretResolutionError);
      return error as SecretResolutionError;
    }
    throw new Error('expected SecretResolutionError');
  }

  it('writes each key into its variable with one call per (ARN, stage, id)', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ DATABASE_URL: 'postgres://x', SECRET_KEY: 's3cret', port: 5432 }) });
    const env: NodeJS.ProcessEnv = {
      LAMBDA_TASKS_SECRET_DATABASE_URL: `${ARN}:DATABASE_URL:AWSCURRENT:v1`,
      LAMBDA_TASKS_SECRET_SECRET_KEY: `${ARN}:SECRET_KEY:AWSCURRENT:v1`,
      LAMBDA_TASKS_SECRET_DB_PORT: `${ARN}:port::`,
    };
    expect((await resolveSecretsIntoEnv({ client, env })).sort()).toEqual(['DATABASE_URL', 'DB_PORT', 'SECRET_KEY']);
    expect(env).toMatchObject({ DATABASE_URL: 'postgres://x', SECRET_KEY: 's3cret', DB_PORT: '5432' });
    const calls = sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls).toEqual(expect.arrayContaining([
      { SecretId: ARN, VersionStage: 'AWSCURRENT', VersionId: 'v1' },
      { SecretId: ARN, VersionStage: 'AWSCURRENT' },
    ]));
  });

  it('treats an empty stage and id as AWSCURRENT, and sends only what is given', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"a":"1"}' });
    await resolveSecretsIntoEnv({ client, env: { LAMBDA_TASKS_SECRET_A: `${ARN}:a::` } });
    await resolveSecretsIntoEnv({ client, env: { LAMBDA_TASKS_SECRET_B: `${OTHER_ARN}:a::v7` } });
    await resolveSecretsIntoEnv({ client, env: { LAMBDA_TASKS_SECRET_C: `${OTHER_ARN}:a:AWSPREVIOUS:` } });
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: ARN, VersionStage: 'AWSCURRENT' },
      { SecretId: OTHER_ARN, VersionId: 'v7' },
      { SecretId: OTHER_ARN, VersionStage: 'AWSPREVIOUS' },
    ]);
  });

  it('caches: a second resolution makes no call and does not complain that NAME is set', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"a":"1"}' });
    const env: NodeJS.ProcessEnv = { LAMBDA_TASKS_SECRET_A: `${ARN}:a::` };
    await resolveSecretsIntoEnv({ client, env });
    await expect(resolveSecretsIntoEnv({ client, env })).resolves.toEqual([]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('validates every reference before any call', async () => {
    const error = await failure({ LAMBDA_TASKS_SECRET_GOOD: `${ARN}:a::`, LAMBDA_TASKS_SECRET_BAD: `${ARN}:a` });
    expect(error.variable).toBe('LAMBDA_TASKS_SECRET_BAD');
    expect(error.message).toMatch(/exactly 10 colon-separated segments\), got 8$/);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it.each([
    ['an empty JSON key', `${ARN}::AWSCURRENT:`, /the JSON key is empty/],
    ['an empty ARN', ':::::::a::', /ARN must look like/],
    ['a non-Secrets-Manager ARN', 'arn:aws:s3:eu-west-1:123456789012:bucket:x:a::', /ARN must look like/],
    ['a bad account', 'arn:aws:secretsmanager:eu-west-1:123:secret:x:a::', /12-digit account/],
  ])('rejects %s, naming the variable', async (_title, value, message) => {
    const error = await failure({ LAMBDA_TASKS_SECRET_X: value });
    expect(error.message).toMatch(/^LAMBDA_TASKS_SECRET_X: /);
    expect(error.message).toMatch(message);
  });

  it('rejects NAME set both directly and as a reference', async () => {
    const error = await failure({ LAMBDA_TASKS_SECRET_FOO: `${ARN}:a::`, FOO: 'direct' });
    expect(error.message).toBe('LAMBDA_TASKS_SECRET_FOO: FOO is also set in the environment: set one or the other');
  });

  it('names every conflicting variable and NAME, not only the first, and makes no call', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"a":"1"}' });
    const env: NodeJS.ProcessEnv = {
      LAMBDA_TASKS_SECRET_FOO: `${ARN}:a::`,
      FOO: 'direct',
      LAMBDA_TASKS_SECRET_FINE: `${ARN}:a::`,
      LAMBDA_TASKS_SECRET_BAR: `${OTHER_ARN}:a::`,
      BAR: 'also direct',
    };
    const error = await failure(env);
    // Both variables, and both names on their own (\b: not just as the tail of LAMBDA_TASKS_SECRET_FOO).
    for (const part of [/LAMBDA_TASKS_SECRET_FOO\b/, /LAMBDA_TASKS_SECRET_BAR\b/, /\bFOO\b/, /\bBAR\b/]) expect(error.message).toMatch(part);
    expect(error.message).toMatch(/also set in the environment/);
    for (const part of ['LAMBDA_TASKS_SECRET_FOO', 'LAMBDA_TASKS_SECRET_BAR']) expect(error.variable).toContain(part);
    expect(error.message).not.toContain('FINE');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(env).toMatchObject({ FOO: 'direct', BAR: 'also direct' });
    expect(env.FINE).toBeUndefined();
  });

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])(
    'rejects the JSON key %s when the secret does not have it, and leaves the variable unset',
    async (key) => {
      sm.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"hunter2"}' });
      const env: NodeJS.ProcessEnv = { LAMBDA_TASKS_SECRET_X: `${ARN}:${key}::` };
      const error = await failure(env);
      expect(error.message).toMatch(/^LAMBDA_TASKS_SECRET_X: /);
      expect(error.message).toContain(`has no key "${key}"`);
      expect(error.message).not.toContain('hunter2');
      expect(Object.hasOwn(env, 'X')).toBe(false);
    },
  );

  it('reads the JSON keys constructor and toString when the secret has them', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"constructor":"c0","toString":"t0"}' });
    const env: NodeJS.ProcessEnv = { LAMBDA_TASKS_SECRET_C: `${ARN}:constructor::`, LAMBDA_TASKS_SECRET_T: `${ARN}:toString::` };
    await resolveSecretsIntoEnv({ client, env });
    expect(env).toMatchObject({ C: 'c0', T: 't0' });
  });

  it('rejects a missing JSON key without printing the secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"hunter2"}' });
    const error = await failure({ LAMBDA_TASKS_SECRET_X: `${ARN}:username::` });
    expect(error.message).toMatch(/has no key "username"/);
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a non-JSON secret without printing it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2' });
    const error = await failure({ LAMBDA_TASKS_SECRET_X: `${ARN}:a::` });
    expect(error.message).toMatch(/is not valid JSON/);
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a JSON secret that is not an object, and a binary secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '["a"]' });
    expect((await failure({ LAMBDA_TASKS_SECRET_X: `${ARN}:a::` })).message).toMatch(/is not a JSON object/);
    sm.reset();
    resetSecretCache();
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    expect((await failure({ LAMBDA_TASKS_SECRET_X: `${ARN}:a::` })).message).toMatch(/is binary/);
  });

  it('reports a failed call and does not cache it', async () => {
    sm.on(GetSecretValueCommand).rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })).resolves({ SecretString: '{"a":"1"}' });
    const env: NodeJS.ProcessEnv = { LAMBDA_TASKS_SECRET_A: `${ARN}:a::` };
    expect((await failure(env)).message).toMatch(/GetSecretValue failed for .*AccessDeniedException: denied/);
    await resolveSecretsIntoEnv({ client, env });
    expect(env.A).toBe('1');
  });
});

describe('Function: formatSecretReference()', () => {
  it('formats ten segments that parse back', () => {
    const value = formatSecretReference({ arn: ARN, jsonKey: 'password' });
    expect(value).toBe(`${ARN}:password::`);
    expect(parseSecretReference('V', value)).toEqual({ arn: ARN, jsonKey: 'password', versionStage: '', versionId: '' });
    expect(formatSecretReference({ arn: ARN, jsonKey: 'password', versionStage: 'AWSPENDING' })).toBe(`${ARN}:password:AWSPENDING:`);
  });

  it('rejects an empty key and a bad ARN', () => {
    expect(() => formatSecretReference({ arn: ARN, jsonKey: '' })).toThrow(/jsonKey/);
    expect(() => formatSecretReference({ arn: 'arn:aws:s3:::bucket', jsonKey: 'k' })).toThrow(/arn/);
  });
});
