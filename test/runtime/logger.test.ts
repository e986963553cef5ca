import { libraryLog, runInTaskScope, taskLogger } from '../../src/runtime/logger';
import { withLogs } from '../support/logs';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Object: taskLogger', () => {
  withLogs(); // these tests read the library's log lines
  afterEach(() => {
    jest.restoreAllMocks();
    delete process.env.AWS_LAMBDA_LOG_FORMAT;
  });

  it('prefixes each line with the id of the task running in that async context, also when two interleave', async () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const run = (taskId: string, delays: number[]) =>
      runInTaskScope({ taskId, taskName: 'demo' }, async () => {
        for (const [i, ms] of delays.entries()) {
          await tick(ms);
          taskLogger.info('step %d', i);
        }
      });
    await Promise.all([run('task-a', [5, 20, 5]), run('task-b', [1, 1, 30])]);
    const lines = info.mock.calls.map((c) => c[0] as string);
    expect(lines).toHaveLength(6);
    // They did interleave…
    expect(lines.slice(0, 3).some((l) => l.startsWith('[task-a]')) && lines.slice(0, 3).some((l) => l.startsWith('[task-b]'))).toBe(true);
    // …and each kept its own prefix.
    expect(lines.filter((l) => l.startsWith('[task-a] ')).sort()).toEqual(['[task-a] step 0', '[task-a] step 1', '[task-a] step 2']);
    expect(lines.filter((l) => l.startsWith('[task-b] ')).sort()).toEqual(['[task-b] step 0', '[task-b] step 1', '[task-b] step 2']);
  });

  it('has no prefix outside a task', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    taskLogger.warn('plain');
    expect(warn).toHaveBeenCalledWith('plain');
  });

  it('writes JSON lines with taskId and taskName when Lambda’s JSON log format is on', () => {
    process.env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    runInTaskScope({ taskId: 'task-c', taskName: 'emails.send' }, () => taskLogger.error('failed for %s', 'bob'));
    const line = JSON.parse(String(write.mock.calls[0][0]));
    expect(line).toMatchObject({ level: 'ERROR', message: 'failed for bob', taskId: 'task-c', taskName: 'emails.send' });
  });

  it('puts the library’s structured fields after the message', () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    libraryLog.info('task SUCCESS', { taskId: 'x', durationMs: 3 });
    expect(info).toHaveBeenCalledWith('task SUCCESS {"taskId":"x","durationMs":3}');
  });

  it('escapes CR, LF, ESC and other control characters in text lines, so arguments cannot forge lines or colours', () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const hostile = 'bob\n[00000000-0000-4000-8000-000000000000] task SUCCESS\r\u001b[31mred\u001b[0m\tend\u0000\u007f\u009b2J\u2028';
    runInTaskScope({ taskId: 'task-d', taskName: 'emails.send' }, () => taskLogger.info('sending to %s', hostile));
    libraryLog.info(`message ${hostile}`, { name: hostile });
    const lines = info.mock.calls.map((c) => String(c[0]));
    expect(lines[0]).toBe('[task-d] sending to bob\\n[00000000-0000-4000-8000-000000000000] task SUCCESS\\r\\u001b[31mred\\u001b[0m\\tend\\u0000\\u007f\\u009b2J\\u2028');
    for (const line of lines) expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    // The fields stay JSON a reader can parse back to the original value.
    expect(JSON.parse(lines[1].slice(lines[1].indexOf(' {"name"') + 1))).toEqual({ name: hostile });
  });

  it('leaves JSON lines to JSON’s own escaping: one line, the value intact', () => {
    process.env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    taskLogger.info('to %s', 'a\nb\u001b[0m');
    const written = String(write.mock.calls[0][0]);
    expect(written.indexOf('\n')).toBe(written.length - 1);
    expect(JSON.parse(written)).toMatchObject({ message: 'to a\nb\u001b[0m' });
  });

  it('writes nothing below LAMBDA_TASKS_LOG_LEVEL, and nothing at all when it is silent', () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    process.env.LAMBDA_TASKS_LOG_LEVEL = 'warn';
    taskLogger.info('dropped');
    libraryLog.warn('kept');
    process.env.LAMBDA_TASKS_LOG_LEVEL = 'silent';
    libraryLog.error('dropped too');
    expect(info).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith('kept');
  });
});
