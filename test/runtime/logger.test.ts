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
