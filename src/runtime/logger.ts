import { AsyncLocalStorage } from 'node:async_hooks';
import { format } from 'node:util';

/** A task's logger: every line carries the running task's id. */
export interface TaskLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** The task a log line belongs to. */
export interface TaskLogScope {
  readonly taskId: string;
  readonly taskName: string;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_RANK: Record<string, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, silent: 6, off: 6 };

/**
 * The lowest level written: `LAMBDA_TASKS_LOG_LEVEL` (debug, info, warn, error, silent), else Lambda's
 * `AWS_LAMBDA_LOG_LEVEL` (the function's application log level), else info. Read at each line, so tests
 * and benchmarks can turn the library's lines off and back on.
 */
function minimumRank(): number {
  const configured = (process.env.LAMBDA_TASKS_LOG_LEVEL ?? process.env.AWS_LAMBDA_LOG_LEVEL ?? 'info').trim().toLowerCase();
  return LEVEL_RANK[configured] ?? LEVEL_RANK.info;
}

const scopeStorage = new AsyncLocalStorage<TaskLogScope>();

/** Runs `fn` with log lines attributed to the given task (prefix `[<task id>]`). */
export function runInTaskScope<T>(scope: TaskLogScope, fn: () => T): T {
  return scopeStorage.run(scope, fn);
}

function jsonLogFormat(): boolean {
  return process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
}

/** C0 and C1 controls, DEL and the Unicode line and paragraph separators: what could break or colour a text line. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Escapes control characters as JSON does (`\n`, `\r`, `\t`, else `\u001b`), so a text log line stays one line
 * and a task's arguments cannot forge lines or send terminal escape codes (log injection).
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function emit(level: Level, source: string, message: string, args: unknown[], fields: Record<string, unknown>): void {
  if (LEVEL_RANK[level] < minimumRank()) return;
  const scope = scopeStorage.getStore();
  const text = format(message, ...args);
  if (jsonLogFormat()) {
    // Lambda's JSON log format: one JSON object per line, with the task as fields.
    const task = scope ? { taskId: scope.taskId, taskName: scope.taskName } : {};
    const line = { timestamp: new Date().toISOString(), level: level.toUpperCase(), logger: source, message: text, ...fields, ...task };
    process.stdout.write(JSON.stringify(line) + '\n');
    return;
  }
  const prefix = scope ? `[${scope.taskId}] ` : '';
  const extra = Object.keys(fields).length > 0 ? ' ' + JSON.stringify(fields) : '';
  // Escaped after JSON.stringify too: it leaves DEL, C1 controls and U+2028/U+2029 raw (their \uXXXX form is still JSON).
  console[level](escapeControlCharacters(`${prefix}${text}${extra}`));
}

function makeLogger(source: string): TaskLogger {
  return {
    debug: (message, ...args) => emit('debug', source, message, args, {}),
    info: (message, ...args) => emit('info', source, message, args, {}),
    warn: (message, ...args) => emit('warn', source, message, args, {}),
    error: (message, ...args) => emit('error', source, message, args, {}),
  };
}

/**
 * The task logger: lines are prefixed with `[<task id>]` of the task running in the
 * current async context (also under concurrency), and carry `taskId` and `taskName`
 * fields when Lambda's JSON log format is on. Outside a task, lines have no prefix.
 *
 * @example
 * import { taskLogger } from 'cdk-lambda-tasks/runtime';
 * taskLogger.info('sending email to user %d', 42); // → "[3f2c…] sending email to user 42"
 */
export const taskLogger: TaskLogger = makeLogger('lambda-tasks.task');

/** The library's own log lines: a message and structured fields (task ids, counts, durations). */
export const libraryLog = {
  info: (message: string, fields: Record<string, unknown> = {}) => emit('info', 'lambda-tasks', message, [], fields),
  warn: (message: string, fields: Record<string, unknown> = {}) => emit('warn', 'lambda-tasks', message, [], fields),
  error: (message: string, fields: Record<string, unknown> = {}) => emit('error', 'lambda-tasks', message, [], fields),
};
