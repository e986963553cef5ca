import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LambdaTasksQueue, TaskSecret } from '../../src';

const ENTRY = path.join(__dirname, 'fixtures', 'worker.ts');

interface Finding {
  readonly rule: string;
  readonly resource: string;
  readonly detail: string;
}

/**
 * The findings that cannot be fixed with props, each with its reason. Only with a VPC: Lambda creates and
 * deletes the function's network interfaces, and those EC2 actions take no resource ARN.
 */
const ALLOWED: readonly { rule: string; resource: RegExp; reason: string }[] = [
  { rule: 'AwsSolutions-IAM5[Resource::*]', resource: /^Stack\/Tasks\/\w+\/Role\/DefaultPolicy\/Resource$/, reason: 'ec2:*NetworkInterface* for a function in a VPC: these actions support no resource-level permissions' },
];

function findings(withVpc: boolean): Finding[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Stack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const secret = new Secret(stack, 'DbSecret');
  const tasks = new LambdaTasksQueue(stack, 'Tasks', {
    entry: ENTRY,
    queues: { default: {}, reports: {} },
    secrets: { DB_PASSWORD: TaskSecret.fromSecret(secret, 'password') },
    alarmTopic: new Topic(stack, 'Alarms', { enforceSSL: true }),
    vpc: withVpc ? new Vpc(stack, 'Vpc', { maxAzs: 2 }) : undefined,
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
    expect(findings(false)).toEqual([]);
  });

  it('finds, with a VPC, only the allow-listed ENI permissions on "*" (IAM5)', () => {
    const all = findings(true);
    expect(unexplained(all)).toEqual([]);
    expect(all.map((f) => f.resource).sort()).toEqual(['Stack/Tasks/default/Role/DefaultPolicy/Resource', 'Stack/Tasks/reports/Role/DefaultPolicy/Resource']);
  });

  it('does report findings when there are some (the check can fail)', () => {
    const app = new App();
    const stack = new Stack(app, 'Plain');
    new Queue(stack, 'Unsafe');
    const rules = new AwsSolutionsChecks(app).validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });
});
