// Factories shared by the construct tests: a synthesized LambdaTasksQueue and readers of its template.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { LambdaTasksQueue, type LambdaTasksQueueProps } from '../../src';

/** The worker entry the construct tests bundle. */
export const ENTRY = path.join(__dirname, 'fixtures', 'worker.ts');
/** A complete secret ARN (seven segments). */
export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf';

/** Options of {@link synth}. */
export interface SynthOptions {
  /** Bundle the worker for real (slow); otherwise bundling is skipped as in `cdk synth --exclusively`. */
  readonly bundle?: boolean;
  /** Adds resources to the stack before the construct, and returns props that use them. */
  readonly prepare?: (stack: Stack) => Partial<LambdaTasksQueueProps>;
  /** Adds to the stack after the construct (a producer, a database), before the template is made. */
  readonly extend?: (tasks: LambdaTasksQueue, stack: Stack) => void;
}

/** A stack with one `LambdaTasksQueue` (entry: the fixture worker) and its template. */
export function synth(props: Partial<LambdaTasksQueueProps> = {}, options: SynthOptions = {}) {
  const app = new App({ context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Stack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const prepared = options.prepare?.(stack) ?? {};
  const tasks = new LambdaTasksQueue(stack, 'Tasks', { entry: ENTRY, ...prepared, ...props });
  options.extend?.(tasks, stack);
  return { app, stack, tasks, template: Template.fromStack(stack) };
}

/** A policy statement as synthesized. */
export interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** The policy statements attached to a worker's role, by the queue name. */
export function statementsOf(template: Template, queue: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const roleId = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith(`Tasks${queue}Role`))!;
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The distinct actions of some statements, sorted. */
export const actionsOf = (statements: readonly { Action: string | string[] }[]) =>
  [...new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))].sort();

/** A `LAMBDA_TASKS_QUEUES` value as synthesized (`Fn::Join`), parsed, each deploy-time value (a `Ref`) replaced by its logical id. */
export function parseQueuesEnv(joined: { 'Fn::Join': [string, (string | { Ref: string })[]] }): unknown {
  return JSON.parse(joined['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : part.Ref)).join(''));
}

/** A worker's function properties, by the queue name. */
export function workerOf(template: Template, queue: string): Record<string, any> {
  const entry = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(`Tasks${queue}Worker`));
  if (!entry) throw new Error(`no worker for queue ${queue}`);
  return entry[1].Properties;
}

/** A resource's properties and policies, by its type and logical id prefix. */
export function resourceOf(template: Template, type: string, idPrefix: string): Record<string, any> {
  const entry = Object.entries(template.findResources(type)).find(([id]) => id.startsWith(idPrefix));
  if (!entry) throw new Error(`no ${type} with a logical id starting ${idPrefix}`);
  return entry[1];
}

/** The directory of the (only) worker asset of a synthesized app. */
export function workerAssetDirectory(app: App): string {
  const assembly = app.synth();
  const assets = fs.readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
  if (assets.length !== 1) throw new Error(`expected one asset, found ${assets.length}`);
  return path.join(assembly.directory, assets[0]);
}
