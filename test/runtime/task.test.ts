import { runInNewContext } from 'node:vm';
import { z } from 'zod';
import * as zm from 'zod/mini';
import { configureLambdaTasks, resetLambdaTasksConfig } from '../../src/runtime/config';
import { ConfigurationError, TaskDefinitionError, TaskNotRegisteredError, TaskValidationError, TimeoutRangeError } from '../../src/runtime/errors';
import { TaskInvocation } from '../../src/runtime/invocation';
import { lambdaTask } from '../../src/runtime/lambda-task';
import { clearTaskRegistry, findTask } from '../../src/runtime/registry';
import { type LambdaTaskOptions, type TaskArgsSchema } from '../../src/runtime/task-types';

const args = z.object({ userId: z.number().int(), template: z.string() });
const noop = async () => 'sent';

function definitionError(fn: () => unknown): TaskDefinitionError | TimeoutRangeError {
  try {
    fn();
  } catch (error) {
    return error as TaskDefinitionError;
  }
  throw new Error('expected a definition error');
}

beforeEach(() => {
  clearTaskRegistry();
  resetLambdaTasksConfig();
  configureLambdaTasks({ queues: { default: 'https://sqs.us-east-1.amazonaws.com/1/default', reports: { url: 'https://sqs.us-east-1.amazonaws.com/1/reports', maxHardTimeout: 600 } } });
});
afterAll(() => resetLambdaTasksConfig());

describe('Function: lambdaTask()', () => {
  it('returns a task named as given, on the default queue, registered by name', () => {
    const task = lambdaTask({ name: 'emails.sendWelcomeEmail', args }, noop);
    expect(task.name).toBe('emails.sendWelcomeEmail');
    expect(task.options).toEqual({ name: 'emails.sendWelcomeEmail', queue: 'default', ignoreErrors: [], softTimeout: 270, hardTimeout: 300 });
    expect(findTask('emails.sendWelcomeEmail')?.callable).toBe(task);
  });

  it('resolves timeouts lazily against the queue it names', () => {
    const task = lambdaTask({ name: 'reports.build', args, queue: 'reports', softTimeout: 500 }, noop);
    configureLambdaTasks({ queues: { default: 'https://q/d', reports: { url: 'https://q/r', maxHardTimeout: 600 } }, defaultHardTimeout: 300 });
    expect(task.options).toMatchObject({ softTimeout: 500, hardTimeout: 501 });
  });

  describe('definition errors', () => {
    it.each<[string, Partial<LambdaTaskOptions<TaskArgsSchema>>, string, RegExp]>([
      ['a non-object schema', { args: z.string() as unknown as TaskArgsSchema }, 'args', /must be an object schema/],
      ['no schema', { args: undefined }, 'args', /must be an object schema/],
      // The shape of a zod 3 classic schema (zod 3.25's default `zod` import): `_def`, no `_zod`.
      ['a classic zod 3 schema', { args: { _def: { typeName: 'ZodObject', shape: () => ({}) }, shape: {} } as unknown as TaskArgsSchema }, 'args', /classic zod 3 schema: with zod 3\.25\+ import \{ z \} from 'zod\/v4'/],
      ['a bad name', { name: 'has spaces' }, 'name', /not a valid task name/],
      ['an empty name', { name: '' }, 'name', /not a valid task name/],
      ['a non-Error class in ignoreErrors', { ignoreErrors: [Date as unknown as typeof Error] }, 'ignoreErrors', /item 0 \(Date\) is not an Error class/],
      ['a bad queue name', { queue: 'no spaces please' }, 'queue', /not a queue name/],
      ['an unknown option', { hardTimout: 30 } as never, 'hardTimout', /unknown option/],
    ])('%s → TaskDefinitionError naming the field', (_title, override, field, message) => {
      const error = definitionError(() => lambdaTask({ name: 'bad.task', args, ...override } as LambdaTaskOptions<TaskArgsSchema>, noop));
      expect(error).toBeInstanceOf(TaskDefinitionError);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
      expect(error.message).toContain(field);
    });

    it('a missing function → TaskDefinitionError', () => {
      const error = definitionError(() => lambdaTask({ name: 'no.fn', args }, undefined as never));
      expect(error).toBeInstanceOf(TaskDefinitionError);
      expect(error.field).toBe('fn');
    });

    it.each<[string, Partial<LambdaTaskOptions<TaskArgsSchema>>, string]>([
      ['softTimeout >= hardTimeout', { softTimeout: 30, hardTimeout: 30 }, 'softTimeout'],
      ['a hard timeout above 900', { hardTimeout: 901 }, 'hardTimeout'],
      ['a soft timeout of 0', { softTimeout: 0 }, 'softTimeout'],
      ['a fractional timeout', { hardTimeout: 1.5 }, 'hardTimeout'],
    ])('%s → TimeoutRangeError naming task and field', (_title, override, field) => {
      const error = definitionError(() => lambdaTask({ name: 'bad.timeouts', args, ...override }, noop));
      expect(error).toBeInstanceOf(TimeoutRangeError);
      expect(error).toBeInstanceOf(RangeError);
      expect(error.task).toBe('bad.timeouts');
      expect(error.field).toBe(field);
      expect(error.message).toMatch(/^Task "bad.timeouts": /);
    });

    it('a name already used by a different task → TaskDefinitionError naming it', () => {
      lambdaTask({ name: 'dup.task', args }, noop);
      const error = definitionError(() => lambdaTask({ name: 'dup.task', args, hardTimeout: 60 }, noop));
      expect(error).toBeInstanceOf(TaskDefinitionError);
      expect(error.message).toMatch(/^Task "dup.task": name: a different task is already registered/);
    });

    it('re-defining the same task (a module reload: new schema and function objects, same source) is allowed', () => {
      const define = () => lambdaTask({ name: 'same.task', args: z.object({ a: z.number() }) }, async ({ a }) => a + 1);
      const first = define();
      const second = define();
      expect(second).not.toBe(first);
      expect(findTask('same.task')?.callable).toBe(second);
    });
  });

  it('accepts zod/mini object schemas (detected by definition type, not instanceof)', () => {
    const task = lambdaTask({ name: 'mini.task', args: zm.object({ n: zm.number() }) }, async ({ n }) => n);
    expect(task.serialize({ n: 2 })).toEqual({ message: { task_name: 'mini.task', kwargs: { n: 2 } }, delay: 0, queue: 'default' });
    expect(() => task.serialize({ n: 'two' } as never)).toThrow(TaskValidationError);
  });
});

describe('Method: serialize()', () => {
  it('returns the seed’s exact JSON', () => {
    const task = lambdaTask({ name: 'myapp.tasks.send_welcome_email', args }, noop);
    expect(task.serialize({ userId: 42, template: 'welcome' })).toEqual({
      message: { task_name: 'myapp.tasks.send_welcome_email', kwargs: { userId: 42, template: 'welcome' } },
      delay: 0,
      queue: 'default',
    });
    expect(task.serialize({ userId: 42, template: 'welcome' }, { delay: 30 }).delay).toBe(30);
  });

  it('round-trips through JSON.stringify and TaskInvocation.parse', () => {
    const task = lambdaTask({ name: 'round.trip', args, queue: 'reports' }, noop);
    const payload = JSON.parse(JSON.stringify(task.serialize({ userId: 7, template: 'x' }, { delay: 5 })));
    const invocation = TaskInvocation.parse(payload);
    expect(invocation.toJSON()).toEqual(payload);
    expect(invocation).toMatchObject({ taskName: 'round.trip', kwargs: { userId: 7, template: 'x' }, delay: 5, queue: 'reports' });
  });

  it('rejects invalid arguments, naming the field', () => {
    const task = lambdaTask({ name: 'validates.args', args }, noop);
    expect(() => task.serialize({ userId: 1.5, template: 'x' })).toThrow('Task "validates.args": args: userId: ');
  });

  it('rejects unknown argument keys although the schema is a plain z.object', () => {
    const task = lambdaTask({ name: 'strict.keys', args }, noop);
    expect(() => task.serialize({ userId: 1, template: 'x', extra: true } as never)).toThrow('unknown argument(s) "extra"; the schema allows: userId, template');
  });

  it('keeps refinements of the schema', () => {
    const task = lambdaTask({ name: 'refined', args: z.object({ a: z.number(), b: z.number() }).refine((v) => v.a < v.b, 'a must be below b') }, noop);
    expect(() => task.serialize({ a: 2, b: 1 })).toThrow(/a must be below b/);
  });

  it('rejects arguments that do not survive a JSON round trip', () => {
    const task = lambdaTask({ name: 'json.only', args: z.object({ when: z.date().optional(), big: z.bigint().optional(), note: z.string().optional() }) }, noop);
    expect(() => task.serialize({ when: new Date() })).toThrow(/args\.when is a Date, which JSON turns into a string/);
    // A Date of another realm (vm context, iframe) is told apart the same way, whatever the schema says of it.
    const foreign = runInNewContext('new Date()') as Date;
    expect(() => task.serialize({ when: foreign })).toThrow(/args\.when is a Date, which JSON turns into a string/);
    const loose = lambdaTask({ name: 'json.loose', args: z.object({ when: z.unknown() }) }, noop);
    expect(() => loose.serialize({ when: foreign })).toThrow(/args\.when is a Date, which JSON turns into a string/);
    expect(() => task.serialize({ big: 1n })).toThrow(/args\.big is a BigInt/);
  });

  it('drops undefined values (JSON does too)', () => {
    const task = lambdaTask({ name: 'undefined.ok', args: z.object({ note: z.string().optional(), n: z.number() }) }, noop);
    expect(task.serialize({ note: undefined, n: 1 }).message.kwargs).toEqual({ n: 1 });
  });

  it.each([[-1], [901], [1.5]])('rejects delay %p (integer 0..900)', (delay) => {
    const task = lambdaTask({ name: 'bad.delay', args }, noop);
    expect(() => task.serialize({ userId: 1, template: 'x' }, { delay })).toThrow(/^Task "bad.delay": delay: .* from 0 to 900/);
  });

  it('rejects an unknown queue with ConfigurationError', () => {
    const task = lambdaTask({ name: 'unknown.queue', args, queue: 'nowhere' }, noop);
    expect(() => task.serialize({ userId: 1, template: 'x' })).toThrow(ConfigurationError);
    expect(() => task.serialize({ userId: 1, template: 'x' })).toThrow('unknown queue "nowhere"');
  });

  it('rejects a hard timeout above the queue’s maxHardTimeout', () => {
    const task = lambdaTask({ name: 'too.long', args, queue: 'reports', hardTimeout: 700 }, noop);
    expect(() => task.serialize({ userId: 1, template: 'x' })).toThrow(TimeoutRangeError);
  });

  it('rejects a message over 1 MiB', () => {
    const task = lambdaTask({ name: 'too.big', args: z.object({ blob: z.string() }) }, noop);
    expect(() => task.serialize({ blob: 'x'.repeat(1_048_576) })).toThrow(/would be \d+ bytes; SQS takes at most 1048576/);
  });
});

describe('Method: TaskInvocation.parse()', () => {
  it('rejects an unknown task with TaskNotRegisteredError', () => {
    expect(() => TaskInvocation.parse({ message: { task_name: 'nope', kwargs: {} }, delay: 0, queue: 'default' })).toThrow(TaskNotRegisteredError);
  });

  it('rejects a malformed payload, saying what is expected', () => {
    expect(() => TaskInvocation.parse({ message: { kwargs: {} }, delay: 0 })).toThrow(/message\.task_name: .*expected \{ message: \{ task_name, kwargs \}, delay, queue \}/);
  });

  it('rejects kwargs that fail the task schema', () => {
    lambdaTask({ name: 'parse.kwargs', args }, noop);
    expect(() => TaskInvocation.parse({ message: { task_name: 'parse.kwargs', kwargs: { userId: 'x', template: 't' } }, delay: 0, queue: 'default' })).toThrow(
      /^Task "parse.kwargs": message.kwargs: userId/,
    );
  });

  it('rejects a payload whose queue is not the task’s', () => {
    lambdaTask({ name: 'parse.queue', args }, noop);
    expect(() => TaskInvocation.parse({ message: { task_name: 'parse.queue', kwargs: { userId: 1, template: 't' } }, delay: 0, queue: 'reports' })).toThrow(/per-call queues/);
  });
});

describe('Types', () => {
  it('flow from the schema to the caller and from the function to the result', async () => {
    const task = lambdaTask({ name: 'typed.task', args: z.object({ n: z.number(), label: z.string().default('x') }) }, async ({ n, label }) => ({ doubled: n * 2, label }));
    // @ts-expect-error n must be a number
    expect(() => task.serialize({ n: 'one' })).toThrow(TaskValidationError);
    // @ts-expect-error unknown keys are a compile error too
    expect(() => task.serialize({ n: 1, other: 2 })).toThrow(TaskValidationError);
    // label has a default, so the input may omit it
    expect(task.serialize({ n: 1 }).message.kwargs).toEqual({ n: 1 });
    // A direct call resolves to the function's value, the default filled in (the function uses no em: any object will do).
    const result = await task({ n: 2 }, { em: {} as never });
    expect(result).toEqual({ doubled: 4, label: 'x' });
    // Its type is the function's, not any or unknown: tsc and ts-jest fail on an unused @ts-expect-error.
    result satisfies { doubled: number; label: string };
    // @ts-expect-error the result type comes from the function: doubled is a number
    ({ doubled: 'two', label: 'x' }) satisfies Awaited<ReturnType<typeof task>>;
  });
});
