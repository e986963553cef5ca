import * as path from 'node:path';
import { App, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import { ApplicationLogLevel, LayerVersion, LoggingFormat, Tracing } from 'aws-cdk-lib/aws-lambda';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LambdaTasksQueue, TaskSecret, type LambdaTasksQueueProps } from '../../src';

const ENTRY = path.join(__dirname, 'fixtures', 'worker.ts');

interface Finding {
  readonly rule: string;
  readonly resource: string;
  readonly detail: string;
}

/**
 * The findings that cannot be fixed with props, each with its reason. Only with a VPC (Lambda creates and
 * deletes the function's network interfaces) or with X-Ray tracing (Lambda grants xray:PutTraceSegments and
 * xray:PutTelemetryRecords): those actions take no resource ARN.
 */
const ALLOWED: readonly { rule: string; resource: RegExp; reason: string }[] = [
  {
    rule: 'AwsSolutions-IAM5[Resource::*]',
    resource: /^Stack\/Tasks\/\w+\/Role\/DefaultPolicy\/Resource$/,
    reason: 'ec2:*NetworkInterface* for a function in a VPC, xray:Put* with tracing: these actions support no resource-level permissions',
  },
];

/** Every option of the construct but the network and tracing, as a user who wants them all would set them. */
function everyOption(stack: Stack): Partial<LambdaTasksQueueProps> {
  return {
    loggingFormat: LoggingFormat.JSON,
    applicationLogLevelV2: ApplicationLogLevel.DEBUG,
    layers: [LayerVersion.fromLayerVersionArn(stack, 'Fonts', 'arn:aws:lambda:eu-west-1:123456789012:layer:fonts:3')],
    ephemeralStorageSize: Size.gibibytes(1),
    sourceMap: true,
    queueProps: { encryption: QueueEncryption.KMS, encryptionMasterKey: new Key(stack, 'QueueKey', { enableKeyRotation: true }), retentionPeriod: Duration.days(7) },
    deadLetterQueueProps: { encryptionMasterKey: new Key(stack, 'DeadLetterKey', { enableKeyRotation: true }) },
    removalPolicy: RemovalPolicy.RETAIN,
    queues: { default: {}, reports: { environment: { REPORTS_BUCKET: 'reports' } } },
    schedules: { 'daily-report': { task: 'reports.daily', schedule: ScheduleExpression.cron({ minute: '0', hour: '9' }), kwargs: { kind: 'daily' } } },
  };
}

function findings(options: { vpc?: boolean; everyOption?: boolean; tracing?: boolean }): Finding[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Stack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const secret = new Secret(stack, 'DbSecret');
  const tasks = new LambdaTasksQueue(stack, 'Tasks', {
    entry: ENTRY,
    queues: { default: {}, reports: {} },
    secrets: { DB_PASSWORD: TaskSecret.fromSecret(secret, 'password') },
    alarmTopic: new Topic(stack, 'Alarms', { enforceSSL: true }),
    vpc: options.vpc ? new Vpc(stack, 'Vpc', { maxAzs: 2 }) : undefined,
    ...(options.everyOption ? everyOption(stack) : {}),
    tracing: options.tracing ? Tracing.ACTIVE : undefined,
  });
  const report = new AwsSolutionsChecks(app).validateScope(tasks);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      resource: resource.constructPath ?? resource.resourceLogicalId ?? '?',
      detail: `${violation.description.split('\n')[0]} ${JSON.stringify(resource.locations)}`,
    })),
  );
}

const unexplained = (list: Finding[]) => list.filter((f) => !ALLOWED.some((a) => a.rule === f.rule && a.resource.test(f.resource)));

describe('cdk-nag AwsSolutions on the construct', () => {
  it('finds nothing without a VPC', () => {
    expect(findings({})).toEqual([]);
  });

  it('finds, with a VPC, only the allow-listed ENI permissions on "*" (IAM5)', () => {
    const all = findings({ vpc: true });
    expect(unexplained(all)).toEqual([]);
    expect(all.map((f) => f.resource).sort()).toEqual(['Stack/Tasks/default/Role/DefaultPolicy/Resource', 'Stack/Tasks/reports/Role/DefaultPolicy/Resource']);
  });

  it('finds nothing with every other option (customer-managed KMS keys, JSON logs, layers, /tmp, source maps, retention, removal policy, schedules)', () => {
    expect(findings({ everyOption: true })).toEqual([]);
  });

  it('finds, with X-Ray tracing, only the allow-listed X-Ray permissions on "*" (IAM5)', () => {
    const all = findings({ everyOption: true, tracing: true });
    expect(unexplained(all)).toEqual([]);
    expect(all.map((f) => `${f.rule} ${f.resource}`).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::*] Stack/Tasks/default/Role/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] Stack/Tasks/reports/Role/DefaultPolicy/Resource',
    ]);
  });

  it('does report findings when there are some (the check can fail)', () => {
    const app = new App();
    const stack = new Stack(app, 'Plain');
    new Queue(stack, 'Unsafe');
    const rules = new AwsSolutionsChecks(app).validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });
});
