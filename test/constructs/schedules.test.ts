import { Duration, TimeZone } from 'aws-cdk-lib';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { synth, workerOf } from './helpers';
import { SCHEDULED_TIME_PLACEHOLDER, SCHEDULES_ENV } from '../../src/runtime/contract';

const schedules = {
  'daily-report': { task: 'reports.daily', schedule: ScheduleExpression.cron({ minute: '0', hour: '9', timeZone: TimeZone.EUROPE_LONDON }), kwargs: { kind: 'daily' } },
  'hourly-sync': { task: 'sync.run', schedule: ScheduleExpression.rate(Duration.hours(1)) },
};

describe('LambdaTasksQueue: schedules', () => {
  it('creates one EventBridge Scheduler schedule per entry, invoking the default worker with the versioned event', () => {
    const { template } = synth({ schedules, queues: { default: {}, reports: {} } });
    const found = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((r) => r.Properties);
    expect(found).toHaveLength(2);
    const daily = found.find((p) => p.Description === 'cdk-lambda-tasks: reports.daily')!;
    expect(daily.ScheduleExpression).toBe('cron(0 9 * * ? *)');
    expect(daily.ScheduleExpressionTimezone).toBe('Europe/London');
    expect(daily.State).toBe('ENABLED');
    expect(JSON.parse(daily.Target.Input)).toEqual({ lambdaTasks: 'schedule', v: 1, schedule: 'daily-report', task: 'reports.daily', kwargs: { kind: 'daily' }, scheduledTime: SCHEDULED_TIME_PLACEHOLDER });
    expect(daily.Target.Arn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TasksdefaultWorker/), 'Arn'] });
    expect(daily.Target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 });
    const hourly = found.find((p) => p.Description === 'cdk-lambda-tasks: sync.run')!;
    expect(hourly.ScheduleExpression).toBe('rate(1 hour)');
    expect(JSON.parse(hourly.Target.Input).kwargs).toEqual({});
  });

  it('gives the default worker (only) the schedules to check at its cold start', () => {
    const { template } = synth({ schedules, queues: { default: {}, reports: {} } });
    expect(JSON.parse(workerOf(template, 'default').Environment.Variables[SCHEDULES_ENV])).toEqual({
      'daily-report': { task: 'reports.daily', kwargs: { kind: 'daily' } },
      'hourly-sync': { task: 'sync.run', kwargs: {} },
    });
    expect(workerOf(template, 'reports').Environment.Variables[SCHEDULES_ENV]).toBeUndefined();
    expect(synth().template.findResources('AWS::Scheduler::Schedule')).toEqual({});
  });

  it('the schedules’ role may only invoke the default worker, and only the scheduler may assume it', () => {
    const { template } = synth({ schedules, queues: { default: {}, reports: {} } });
    const roleArns = new Set(Object.values(template.findResources('AWS::Scheduler::Schedule')).map((r) => JSON.stringify(r.Properties.Target.RoleArn)));
    expect(roleArns.size).toBe(1);
    const roleId = (JSON.parse([...roleArns][0]) as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = template.findResources('AWS::IAM::Role')[roleId].Properties;
    expect(role.AssumeRolePolicyDocument.Statement.map((s: { Principal: unknown }) => s.Principal)).toEqual([{ Service: 'scheduler.amazonaws.com' }]);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]);
    expect(statements.map((s) => s.Action)).toEqual(['lambda:InvokeFunction']);
    const resources = JSON.stringify(statements.map((s) => s.Resource));
    expect(resources).toMatch(/TasksdefaultWorker/);
    expect(resources).not.toMatch(/TasksreportsWorker/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a bad schedule name', { 'daily report': schedules['daily-report'] }, /schedules: "daily report" is not a schedule name/],
    ['a bad task name', { daily: { ...schedules['daily-report'], task: 'not a task' } }, /schedules\.daily\.task: "not a task" is not a task name/],
    ['kwargs with a Date', { daily: { ...schedules['daily-report'], kwargs: { at: new Date(0) } } }, /schedules\.daily\.kwargs\.at is a Date.*sent as JSON/],
    ['kwargs that are an array', { daily: { ...schedules['daily-report'], kwargs: [1] } }, /schedules\.daily\.kwargs: must be a plain JSON object/],
  ])('refuses %s at synth, naming the field', (_title, bad, message) => {
    expect(() => synth({ schedules: bad as never })).toThrow(message);
  });
});
