/** Turns the library's log lines on for every test of the enclosing describe block (they are off in tests). */
export function withLogs(level = 'debug'): void {
  let previous: string | undefined;
  beforeEach(() => {
    previous = process.env.LAMBDA_TASKS_LOG_LEVEL;
    process.env.LAMBDA_TASKS_LOG_LEVEL = level;
  });
  afterEach(() => {
    if (previous === undefined) delete process.env.LAMBDA_TASKS_LOG_LEVEL;
    else process.env.LAMBDA_TASKS_LOG_LEVEL = previous;
  });
}
