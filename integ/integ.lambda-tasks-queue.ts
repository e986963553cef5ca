// integ-runner test: a two-queue, one-secret stack. Snapshots are compared offline in CI;
// nothing here can deploy, so there are no deployment assertions.
import * as path from 'node:path';
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { LambdaTasksQueue, TaskSecret } from '../src';

const app = new App();
const stack = new Stack(app, 'LambdaTasksQueueInteg');
const secret = new Secret(stack, 'DatabaseSecret', {
  generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'tasks' }), generateStringKey: 'password', excludePunctuation: true },
});
new LambdaTasksQueue(stack, 'Tasks', {
  entry: path.join(__dirname, 'worker.ts'),
  queues: { default: {}, reports: { hardTimeout: Duration.minutes(10), memorySize: 1024 } },
  secrets: { DB_PASSWORD: TaskSecret.fromSecret(secret, 'password') },
  environment: { DATABASE_HOST: 'db.example.internal' },
});
new IntegTest(app, 'LambdaTasksQueueIntegTest', { testCases: [stack] });
app.synth();
