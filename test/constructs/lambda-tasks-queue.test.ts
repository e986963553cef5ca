import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Connections, Port, SecurityGroup, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { actionsOf, ENTRY, parseQueuesEnv, SECRET_ARN, statementsOf, synth } from './helpers';
import { LambdaTasksQueue, TaskSecret, type LambdaTasksQueueProps } from '../../src';
import { parseSecretReference } from '../../src/runtime/contract';

function twoQueues(extra: Partial<LambdaTasksQueueProps> = {}) {
  return synth({ queues: { default: {}, reports: { hardTimeout: Duration.minutes(10), memorySize: 3008, batchSize: 50, maxBatchingWindow: Duration.seconds(20), maxConcurrency: 5 } }, ...extra });
}

describe('LambdaTasksQueue defaults', () => {
  const { template } = synth();

  it('creates one queue and one dead-letter queue, encrypted by SQS, with 1 MiB messages', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MaximumMessageSize: 1_048_576 });
  });

  it('redrives to the DLQ after one receive, and keeps dead letters 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TasksdefaultDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 1 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  it('derives the visibility timeout as 6 × (hard timeout 300 s + 30 s)', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * 330 });
  });

  it('refuses non-TLS access to both queues', () => {
    template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('runs the worker on Node.js 24, arm64, 512 MB, with a timeout of hard timeout + 30 s', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Architectures: ['arm64'], MemorySize: 512, Timeout: 330, Handler: 'index.handler' });
  });

  it('gives the worker its own log group (one month) and no AWS managed policy', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^TasksdefaultLogs') } } });
    const roles = Object.values(template.findResources('AWS::IAM::Role'));
    expect(roles).toHaveLength(1);
    expect(roles[0].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('consumes the queue with partial batch responses, batches of 10, at most 2 concurrent invocations', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TasksdefaultQueue'), 'Arn'] },
    });
  });

  it('sets LAMBDA_TASKS_QUEUES with url, dlqUrl and maxHardTimeout', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(fn.Properties.Environment.Variables.MIKRO_ORM_ALLOW_VERSION_MISMATCH).toBe('true');
    expect(parseQueuesEnv(fn.Properties.Environment.Variables.LAMBDA_TASKS_QUEUES)).toEqual({
      default: { url: expect.stringMatching(/^TasksdefaultQueue/), dlqUrl: expect.stringMatching(/^TasksdefaultDeadLetterQueue/), maxHardTimeout: 300 },
    });
  });

  it('alarms on dead letters that stay for three maintenance periods (what reconciliation cannot settle) and on the oldest message waiting over twice the worker timeout', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      EvaluationPeriods: 3,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'visible + held' }),
        Match.objectLike({ Id: 'visible', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesVisible' }), Stat: 'Minimum', Period: 300 }) }),
        Match.objectLike({ Id: 'held', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesNotVisible' }), Stat: 'Minimum', Period: 300 }) }),
      ]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 660, ComparisonOperator: 'GreaterThanThreshold' });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toBeUndefined();
  });

  it('sends the maintenance event to the default worker every 5 minutes', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Input: '{"lambdaTasks":"maintenance","v":1}', Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TasksdefaultWorker'), 'Arn'] } })],
    });
  });

  it('grants the worker exactly: its logs, consuming its queue, sending to every queue, consuming every DLQ', () => {
    expect(actionsOf(statementsOf(template, 'default'))).toEqual([
      'logs:CreateLogStream', 'logs:PutLogEvents',
      'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage',
    ]);
    for (const statement of statementsOf(template, 'default')) expect(statement.Resource).not.toEqual('*');
  });

  it('reserves no concurrency (throttles would push messages to the DLQ)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.absent() });
  });
});

describe('LambdaTasksQueue overrides', () => {
  it('builds a queue, DLQ, worker, event source and alarms per named queue, each with its own numbers', () => {
    const { template } = twoQueues();
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 3008, Timeout: 630 });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * 630 + 20 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 50, MaximumBatchingWindowInSeconds: 20, ScalingConfig: { MaximumConcurrency: 5 } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 1260 });
  });

  it('gives each queue its own url, dlqUrl and maxHardTimeout in LAMBDA_TASKS_QUEUES', () => {
    const { tasks, stack } = twoQueues();
    expect(parseQueuesEnv(stack.resolve(tasks.queueUrlsJson))).toEqual({
      default: { url: expect.stringMatching(/^TasksdefaultQueue/), dlqUrl: expect.stringMatching(/^TasksdefaultDeadLetterQueue/), maxHardTimeout: 300 },
      reports: { url: expect.stringMatching(/^TasksreportsQueue/), dlqUrl: expect.stringMatching(/^TasksreportsDeadLetterQueue/), maxHardTimeout: 600 },
    });
  });

  it('lets every worker send to every queue, and only the default worker read the DLQs', () => {
    const { template } = twoQueues();
    const sendTargets = (queue: string) =>
      statementsOf(template, queue).filter((s) => actionsOf([s]).includes('sqs:SendMessage')).map((s) => JSON.stringify(s.Resource));
    expect(sendTargets('reports').join()).toMatch(/TasksdefaultQueue/);
    expect(sendTargets('reports').join()).toMatch(/TasksreportsQueue/);
    const dlqReaders = (queue: string) => statementsOf(template, queue).filter((s) => JSON.stringify(s.Resource).includes('DeadLetterQueue'));
    expect(dlqReaders('default')).toHaveLength(2);
    expect(dlqReaders('reports')).toHaveLength(0);
  });

  it('writes each secret reference so that the runtime parses it back, and grants every worker reading it', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const secret = Secret.fromSecretCompleteArn(stack, 'Db', SECRET_ARN);
    new LambdaTasksQueue(stack, 'Tasks', {
      entry: ENTRY,
      queues: { default: {}, reports: {} },
      secrets: { DB_PASSWORD: TaskSecret.fromSecret(secret, 'password'), DB_USER: TaskSecret.fromSecret(secret, 'username', { versionStage: 'AWSPREVIOUS' }) },
    });
    const template = Template.fromStack(stack);
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables;
    expect(variables.LAMBDA_TASKS_SECRET_DB_PASSWORD).toBe(`${SECRET_ARN}:password::`);
    expect(parseSecretReference('LAMBDA_TASKS_SECRET_DB_PASSWORD', variables.LAMBDA_TASKS_SECRET_DB_PASSWORD)).toEqual({ arn: SECRET_ARN, jsonKey: 'password', versionStage: '', versionId: '' });
    expect(parseSecretReference('LAMBDA_TASKS_SECRET_DB_USER', variables.LAMBDA_TASKS_SECRET_DB_USER)).toMatchObject({ jsonKey: 'username', versionStage: 'AWSPREVIOUS' });
    for (const queue of ['default', 'reports']) {
      expect(actionsOf(statementsOf(template, queue))).toEqual(expect.arrayContaining(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']));
    }
  });

  it('grants no secret access when there are no secrets', () => {
    const { template } = twoQueues();
    expect(actionsOf(statementsOf(template, 'default')).filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('passes environment, runtime, architecture, memory and log retention through', () => {
    const { template } = synth({ environment: { DB_HOST: 'db.internal' }, runtime: Runtime.NODEJS_22_X, architecture: Architecture.X86_64, logRetention: 7 });
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Architectures: ['x86_64'], Environment: { Variables: Match.objectLike({ DB_HOST: 'db.internal' }) } });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('sends both alarms to the alarm topic when given', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const alarmTopic = new Topic(stack, 'Alarms');
    new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY, alarmTopic });
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
  });

  it('puts the workers in a VPC with the ENI permissions Lambda needs, and exposes their security groups', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2 });
    const tasks = new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY, vpc });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }) });
    expect(actionsOf(statementsOf(template, 'default'))).toEqual(expect.arrayContaining(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface']));
    expect(tasks.connections.securityGroups).toHaveLength(1);
  });

  it('grantEnqueue gives SendMessage on every queue and sets LAMBDA_TASKS_QUEUES on a Lambda function', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const tasks = new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY, queues: { default: {}, reports: {} } });
    const api = new LambdaFunction(stack, 'Api', { runtime: Runtime.NODEJS_24_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => 1') });
    tasks.grantEnqueue(api);
    const template = Template.fromStack(stack);
    const functions = Object.entries(template.findResources('AWS::Lambda::Function'));
    const queuesEnvOf = (idPrefix: string) => functions.find(([id]) => id.startsWith(idPrefix))?.[1].Properties.Environment?.Variables?.LAMBDA_TASKS_QUEUES;
    expect(queuesEnvOf('Api')).toEqual({ 'Fn::Join': expect.any(Array) });
    expect(queuesEnvOf('Api')).toEqual(queuesEnvOf('TasksdefaultWorker'));
    const apiPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties.Roles).includes('ApiServiceRole'))!;
    const statements = apiPolicy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[];
    expect(actionsOf(statements)).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    expect(statements).toHaveLength(2);
  });

  it('queue(name) returns that queue\'s queue, dead-letter queue, worker, role, log group and both alarms; queueNames lists the queues', () => {
    const { tasks } = twoQueues();
    const reports = tasks.queue('reports');
    expect(reports.deadLetterQueue.node.path).toBe('Stack/Tasks/reports/DeadLetterQueue');
    expect(reports.queue.node.path).toBe('Stack/Tasks/reports/Queue');
    expect(reports.worker.node.path).toBe('Stack/Tasks/reports/Worker');
    expect(reports.role.node.path).toBe('Stack/Tasks/reports/Role');
    expect(reports.worker.role).toBe(reports.role);
    expect(reports.logGroup.node.path).toBe('Stack/Tasks/reports/Logs');
    expect(reports.deadLetterAlarm.node.path).toBe('Stack/Tasks/reports/DeadLetterAlarm');
    expect(reports.backlogAlarm.node.path).toBe('Stack/Tasks/reports/BacklogAlarm');
    expect(tasks.queueNames).toEqual(['default', 'reports']);
  });

  it('lets a user add an action to an alarm returned by queue(name)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const tasks = new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY });
    tasks.queue('default').deadLetterAlarm.addAlarmAction({ bind: () => ({ alarmActionArn: 'arn:aws:sns:eu-west-1:123456789012:pager' }) });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', { EvaluationPeriods: 3, AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:pager'] });
  });

  it('returns one connections object on every call, holding each worker security group once', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2 });
    const shared = new SecurityGroup(stack, 'Workers', { vpc });
    const tasks = new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY, vpc, securityGroups: [shared], queues: { default: {}, reports: {} } });
    expect(tasks.connections).toBe(tasks.connections);
    expect(tasks.connections.securityGroups).toEqual([shared]);
  });

  it('allows the workers into a database with one ingress rule per worker and no "Ignoring Egress rule" warning', () => {
    // Prepare
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stack');
    const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2 });
    const tasks = new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY, vpc, queues: { default: {}, reports: {} } });
    const db = new Connections({ securityGroups: [new SecurityGroup(stack, 'Db', { vpc })], defaultPort: Port.tcp(5432) });

    // Act
    db.allowDefaultPortFrom(tasks);

    // Assess
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Ignoring Egress rule'))).toEqual([]);
    const ingress = Object.values(Template.fromStack(stack).findResources('AWS::EC2::SecurityGroupIngress'));
    expect(ingress.map((rule) => rule.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]).sort()).toEqual([
      expect.stringMatching(/^TasksdefaultWorkerSecurityGroup/),
      expect.stringMatching(/^TasksreportsWorkerSecurityGroup/),
    ]);
    for (const rule of ingress) expect(rule.Properties).toMatchObject({ FromPort: 5432, ToPort: 5432 });
  });

  it('connections throws without a VPC', () => {
    const { tasks } = synth();
    expect(() => tasks.connections).toThrow('LambdaTasksQueue: connections needs a vpc: the workers are not in one');
  });
});

describe('LambdaTasksQueue validation', () => {
  it.each<[string, Partial<LambdaTasksQueueProps>, string]>([
    ['no default queue', { queues: { reports: {} } }, 'LambdaTasksQueue: queues must include a "default" queue'],
    ['a bad queue name', { queues: { 'default': {}, 'no spaces': {} } }, 'LambdaTasksQueue: queue name "no spaces" must be 1 to 40 letters, digits, _ or -'],
    ['a hard timeout above 870 s', { queues: { default: { hardTimeout: Duration.seconds(871) } } }, 'LambdaTasksQueue: queues.default.hardTimeout must be a whole number of seconds from 1 to 870'],
    ['a hard timeout of 0', { queues: { default: { hardTimeout: Duration.seconds(0) } } }, 'LambdaTasksQueue: queues.default.hardTimeout must be a whole number of seconds from 1 to 870'],
    ['a hard timeout of 1.5 s', { queues: { default: { hardTimeout: Duration.millis(1500) } } }, 'LambdaTasksQueue: queues.default.hardTimeout must be a whole number of seconds from 1 to 870'],
    ['a batching window of 1.5 s', { queues: { default: { maxBatchingWindow: Duration.millis(1500) } } }, 'LambdaTasksQueue: queues.default.maxBatchingWindow must be a whole number of seconds from 0 to 300'],
    ['a batch above 10 without a window', { queues: { default: { batchSize: 20 } } }, 'LambdaTasksQueue: queues.default.batchSize above 10 needs a maxBatchingWindow of at least 1 second'],
    ['a maxConcurrency of 1', { queues: { default: { maxConcurrency: 1 } } }, 'LambdaTasksQueue: queues.default.maxConcurrency must be from 2 to 1000'],
    ['a bad secret name', { secrets: { 'db-password': TaskSecret.fromSecret(Secret.fromSecretCompleteArn(new Stack(), 'S', SECRET_ARN), 'p') } }, 'LambdaTasksQueue: secret name "db-password" must be an environment variable name: upper-case letters, digits and _'],
    ['a reserved secret name', { secrets: { AWS_REGION: TaskSecret.fromSecret(Secret.fromSecretCompleteArn(new Stack(), 'S', SECRET_ARN), 'p') } }, 'LambdaTasksQueue: secret name "AWS_REGION" is reserved (AWS_ and LAMBDA_ prefixes)'],
    ['Node.js 20', { runtime: Runtime.NODEJS_20_X }, 'LambdaTasksQueue: runtime nodejs20.x is not supported: use Runtime.NODEJS_22_X or newer (the default is Runtime.NODEJS_24_X)'],
  ])('refuses %s with a fixed message', (_title, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  it('refuses an environment over Lambda’s 4 KB', () => {
    expect(() => synth({ environment: { BIG: 'x'.repeat(4000) } })).toThrow(/the worker environment would be about \d+ bytes; Lambda allows 4096/);
  });

  it('refuses an unknown queue name in queue()', () => {
    expect(() => synth().tasks.queue('nope')).toThrow('LambdaTasksQueue: no queue named "nope"; queues: default');
  });
});

describe('The worker asset', () => {
  it('is a real esbuild bundle of the entry: it holds the task names and not aws-cdk-lib', () => {
    const { app } = synth({ queues: { default: {}, reports: {} } }, { bundle: true });
    const assembly = app.synth();
    const assets = fs.readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    expect(assets.length).toBeGreaterThanOrEqual(1);
    const bundle = fs.readFileSync(path.join(assembly.directory, assets[0], 'index.js'), 'utf8');
    expect(bundle).toContain('fixture.sendFixtureEmail');
    expect(bundle).toContain('fixture.buildFixtureReport');
    expect(bundle).not.toMatch(/aws-cdk-lib/);
    expect(bundle).not.toMatch(/require\("@mikro-orm\/core"\)/); // bundled, not external
    expect(bundle.length).toBeLessThan(4_000_000);
  }, 120_000);
});
