import { synth, workerOf } from './helpers';
import { METRICS_ENV } from '../../src/runtime/contract';

/** The dashboard body as synthesized (`Fn::Join` of text and references), with each reference as its logical id. */
function dashboardBody(template: ReturnType<typeof synth>['template']): { widgets: { properties: { title: string; metrics: unknown[][] } }[] } {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, (string | Record<string, unknown>)[]] };
  const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/"/g, "'"))).join('');
  return JSON.parse(text);
}

describe('LambdaTasksQueue: task metrics and the dashboard', () => {
  it('tells every worker where its metrics go: the namespace and the construct’s path as service', () => {
    const { template } = synth({ queues: { default: {}, reports: {} } });
    for (const queue of ['default', 'reports']) expect(JSON.parse(workerOf(template, queue).Environment.Variables[METRICS_ENV])).toEqual({ namespace: 'CdkLambdaTasks', service: 'Stack/Tasks' });
    expect(JSON.parse(workerOf(synth({ metricsNamespace: 'MyApp/Tasks' }).template, 'default').Environment.Variables[METRICS_ENV]).namespace).toBe('MyApp/Tasks');
  });

  it('adds one dashboard with a row per queue: depth and age, DLQ depth, outcomes by status, duration p50/p99, re-sends', () => {
    const { template } = synth({ queues: { default: {}, reports: {} } });
    const { widgets } = dashboardBody(template);
    const titles = widgets.map((w) => w.properties.title);
    expect(titles).toEqual([
      'default: messages and age of the oldest', 'default: dead-letter queue', 'default: outcomes', 'default: duration (ms)', 'default: re-sends (too little time left)',
      'reports: messages and age of the oldest', 'reports: dead-letter queue', 'reports: outcomes', 'reports: duration (ms)', 'reports: re-sends (too little time left)',
    ]);
    const metricsOf = (title: string) => JSON.stringify(widgets.find((w) => w.properties.title === title)!.properties.metrics);
    expect(metricsOf('default: messages and age of the oldest')).toMatch(/ApproximateNumberOfMessagesVisible.*ApproximateNumberOfMessagesNotVisible.*ApproximateAgeOfOldestMessage/);
    expect(metricsOf('reports: dead-letter queue')).toMatch(/ApproximateNumberOfMessagesVisible.*TasksreportsDeadLetterQueue/);
    const outcomes = metricsOf('default: outcomes');
    for (const status of ['SUCCESS', 'FAILED', 'RETRYING']) expect(outcomes).toContain(`["CdkLambdaTasks","Tasks","Queue","default","Status","${status}","service","Stack/Tasks"`);
    const duration = metricsOf('reports: duration (ms)');
    expect(duration).toContain('"stat":"p50"');
    expect(duration).toContain('"stat":"p99"');
    expect(duration).toContain('["CdkLambdaTasks","TaskDuration","Queue","reports","service","Stack/Tasks"');
    expect(metricsOf('default: re-sends (too little time left)')).toContain('["CdkLambdaTasks","TaskResends","Queue","default","service","Stack/Tasks"');
  });

  it('adds none with dashboard: false', () => {
    const { template, tasks } = synth({ dashboard: false });
    expect(template.findResources('AWS::CloudWatch::Dashboard')).toEqual({});
    expect(tasks.dashboard).toBeUndefined();
  });
});
