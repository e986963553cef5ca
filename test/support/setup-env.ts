// Jest setupFiles: the library's log lines are off in tests (one line per task floods the output); a test that
// checks logs turns them on with withLogs() from test/support/logs.ts.
process.env.LAMBDA_TASKS_LOG_LEVEL ??= 'silent';
