// The example CDK app's functions, run here against PostgreSQL and fauxqs with the environment its template
// gives them: the API resolves the database secret and enqueues, the worker runs the task.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { TasksExampleStack } from '../../examples/cdk-app/app';
import { getTask } from '../../src/runtime/polling';
import { TaskStatus } from '../../src/runtime/record';
import { resetSecretCache } from '../../src/runtime/secrets';
import { itOnPostgres } from '../support/database';
import { deliver, receiveMessages } from '../support/delivery';
import { configureForQueues } from '../support/tasks-env';
import { startWorkerEnvironment, stopWorkerEnvironment, START_TIMEOUT_MS, type WorkerEnvironment } from '../support/worker-environment';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:example-db-AbCdEf';

/** The environment variables the synthesized template gives a function (names only: values are deploy-time tokens). */
function environmentNames(logicalIdPrefix: string): string[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(new TasksExampleStack(app, 'Example'));
  const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith(logicalIdPrefix));
  const variables = (functions[0][1] as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
  return Object.keys(variables).sort();
}

describe('The example CDK app, run as deployed (PostgreSQL, fauxqs)', () => {
  let env: WorkerEnvironment;
  const saved = { ...process.env };
  const secrets = mockClient(SecretsManagerClient);

  beforeAll(async () => {
    env = await startWorkerEnvironment({ queueName: 'example' });
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    process.env = saved;
    secrets.restore();
    resetSecretCache();
    await stopWorkerEnvironment(env);
  });

  itOnPostgres('the API resolves its database secret and enqueues; the worker runs the task to SUCCESS', async () => {
    // The API function's variables, as the template sets them: the database address and the secret references.
    expect(environmentNames('Api')).toEqual(['DB_HOST', 'DB_NAME', 'DB_PORT', 'LAMBDA_TASKS_QUEUES', 'LAMBDA_TASKS_SECRET_DB_PASSWORD', 'LAMBDA_TASKS_SECRET_DB_USER']);
    const database = new URL(env.db.url!);
    // Values a deployment would resolve, pointed at this machine; the secret itself comes from Secrets Manager (mocked).
    const secretValue = {
      username: decodeURIComponent(database.username),
      password: decodeURIComponent(database.password),
      host: database.hostname,
      port: Number(database.port),
      dbname: database.pathname.slice(1),
    };
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: JSON.stringify(secretValue) });
    for (const name of ['DB_USER', 'DB_PASSWORD', 'DB_HOST', 'DB_PORT', 'DB_NAME']) delete process.env[name];
    Object.assign(process.env, {
      DB_HOST: database.hostname,
      DB_PORT: database.port,
      DB_NAME: database.pathname.slice(1),
      DB_SSL: 'off', // a local database has no TLS; deployed, the RDS CA bundle verifies the server
      LAMBDA_TASKS_SECRET_DB_USER: `${SECRET_ARN}:username::`,
      LAMBDA_TASKS_SECRET_DB_PASSWORD: `${SECRET_ARN}:password::`,
    });
    configureForQueues({ default: env.queue }, { sqsClient: env.fauxqs.client });

    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require('../../examples/cdk-app/api') as typeof import('../../examples/cdk-app/api');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const worker = require('../../examples/cdk-app/worker') as typeof import('../../examples/cdk-app/worker');
    try {
      const { taskId } = await api.handler({ userId: 7 });
      expect(process.env.DB_USER).toBe(decodeURIComponent(database.username)); // resolved from the secret at cold start
      const messages = await receiveMessages(env, 1);
      const { response } = await deliver(env, worker.handler, { messages });
      expect(response).toEqual({ batchItemFailures: [] });
      expect(await getTask(env.db.em, taskId)).toMatchObject({ status: TaskStatus.SUCCESS, taskName: 'emails.sendWelcomeEmail', result: 'sent' });
    } finally {
      await api.close();
      await worker.handler.close();
    }
  }, 120_000);
});
