// README, Deploying with CDK: the stack with the task queues and their workers.
import { App, Stack } from 'aws-cdk-lib';
import { LambdaTasksQueue } from 'cdk-lambda-tasks';

const app = new App();
const stack = new Stack(app, 'ConsumerTasks');
const taskQueues = new LambdaTasksQueue(stack, 'Tasks', { entry: 'src/worker.ts' });
void taskQueues;
app.synth();
