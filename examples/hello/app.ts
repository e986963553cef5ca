import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PGliteDriver } from 'mikro-orm-pglite';
import { GreetingSchema, Migration20270101000000Hello, Visit, VisitSchema } from './entities';
import { failsOnPurpose, sayHello, slowReport } from './tasks';
import { escapeHtml, renderTaskDetail, renderTaskDetailBody, renderTaskList, renderTaskRows } from './views';
import {
  cancelTask,
  configureLambdaTasks,
  createHandler,
  retryTask,
  runLocalWorker,
  getTask,
  LambdaTasksError,
  TaskRecord,
  TaskStatus,
  withLambdaTasks,
  type LambdaTasksOptions,
} from '../../src/runtime'; // in your app: 'cdk-lambda-tasks/runtime'
import { lambdaTasksMigrations } from '../../src/runtime/migrations'; // 'cdk-lambda-tasks/runtime/migrations'
import { Fauxqs, type TestQueue } from '../support/fauxqs';

export const exampleTasks = { sayHello, slowReport, failsOnPurpose };
type ExampleTaskName = keyof typeof exampleTasks;

export interface HelloExampleOptions {
  /** Port to listen on; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** PostgreSQL URL; without it, embedded PGlite in memory. @default process.env.DATABASE_URL */
  readonly databaseUrl?: string;
  /** The runtime configuration. @default { eager: true } */
  readonly tasks?: LambdaTasksOptions;
  /** What the page header says about how tasks run. @default 'eager mode' */
  readonly modeLabel?: string;
  /**
   * Worker mode: no eager mode; tasks go through a local SQS server (fauxqs, with a DLQ) to the local worker
   * (`runLocalWorker` feeding `createHandler`), as they would on AWS. @default false
   */
  readonly worker?: boolean;
}

export interface HelloExample {
  readonly url: string;
  readonly orm: MikroORM;
  /** In worker mode: the local SQS server and the queue. */
  readonly sqs?: { readonly fauxqs: Fauxqs; readonly queue: TestQueue };
  close(): Promise<void>;
}

/** The example's MikroORM config: its entities, the library's entity and dispatcher, the shipped migrations. */
export function helloOrmConfig(databaseUrl: string | undefined): Options {
  const common = {
    entities: [VisitSchema, GreetingSchema],
    extensions: [Migrator],
    migrations: { migrationsList: [...lambdaTasksMigrations, { name: 'Migration20270101000000Hello', class: Migration20270101000000Hello }], snapshot: false, silent: true },
  };
  return withLambdaTasks(
    databaseUrl ? { ...common, driver: PostgreSqlDriver, clientUrl: databaseUrl } : { ...common, driver: PGliteDriver, dbName: 'postgres' },
  ) as Options;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** "1", "true", "yes" and "on" are true; anything else (including "0") is false. */
function isTrue(value: string | null): boolean {
  return value !== null && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

/** Why a text from the query string cannot be stored (too long, U+0000, a lone surrogate), or null. */
function textFault(value: string, maxLength: number): string | null {
  if (value.length === 0 || value.length > maxLength) return `must be 1 to ${maxLength} characters`;
  if (/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) return 'must not contain U+0000 or lone surrogates';
  return null;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}
const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value, null, 2));
const sendHtml = (res: ServerResponse, status: number, html: string) => send(res, status, 'text/html; charset=utf-8', html);

/** Starts the example: an HTTP server over MikroORM, in eager mode unless told otherwise. */
export async function startHelloExample(options: HelloExampleOptions = {}): Promise<HelloExample> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  let mode = options.modeLabel ?? 'eager mode · tasks run in-process right after each commit';
  const orm = await MikroORM.init(helloOrmConfig(databaseUrl));
  let stopWorker = async (): Promise<void> => undefined;
  // A start that fails half-way stops what it started before the error is rethrown.
  const undo = async (): Promise<void> => {
    await stopWorker().catch(() => undefined);
    await orm.close(true).catch(() => undefined);
  };
  try {
    return await serve();
  } catch (error) {
    await undo();
    throw error;
  }

  async function serve(): Promise<HelloExample> {
    await orm.migrator.up();
    let sqs: HelloExample['sqs'];
    if (options.worker) {
      const fauxqs = await Fauxqs.start();
      stopWorker = () => fauxqs.stop();
      const queue = await fauxqs.createQueue('hello');
      configureLambdaTasks({ queues: { default: { url: queue.url, dlqUrl: queue.dlqUrl, maxHardTimeout: 300 } }, sqsClient: fauxqs.client });
      const controller = new AbortController();
      const handler = createHandler({ tasks: Object.values(exampleTasks), orm });
      const running = runLocalWorker({ handler, queueUrls: [queue.url], sqsClient: fauxqs.client, signal: controller.signal, waitTimeSeconds: 1 });
      stopWorker = async () => {
        controller.abort();
        await running;
        await fauxqs.stop();
      };
      sqs = { fauxqs, queue };
      mode = options.modeLabel ?? 'worker mode · tasks go through SQS (fauxqs) to the local worker';
    } else {
      configureLambdaTasks(options.tasks ?? { eager: true });
    }

    const taskNames = Object.values(exampleTasks).map((t) => t.name);

    async function trigger(url: URL, res: ServerResponse): Promise<void> {
      const name = url.searchParams.get('name') ?? 'World';
      const nameFault = textFault(name, 100);
      if (nameFault) return sendJson(res, 400, { error: `name ${nameFault}` });
      const which = url.searchParams.get('task') ?? 'sayHello';
      // Own keys only: "constructor", "__proto__" or "toString" are not tasks.
      if (!Object.hasOwn(exampleTasks, which)) {
        return sendJson(res, 400, { error: `task: unknown task; use one of ${Object.keys(exampleTasks).join(', ')}` });
      }
      const task = exampleTasks[which as ExampleTaskName];
      const delayText = url.searchParams.get('delay') || '0';
      if (!/^\d{1,4}$/.test(delayText) || Number(delayText) > 3600) return sendJson(res, 400, { error: 'delay: whole seconds from 0 to 3600' });
      let taskId = '';
      // The app row and the task record commit together; the task runs (or is sent) after the commit.
      await orm.em.fork().transactional(async (em) => {
        taskId = task.executeOnCommit({ name }, { em, delay: Number(delayText) }); // validates first: nothing is written when it throws
        em.persist(Object.assign(new Visit(), { name, createdAt: new Date() }));
      });
      if (isTrue(url.searchParams.get('redirect'))) return send(res, 303, 'text/plain', 'See Other', { location: `/tasks/${taskId}` });
      const record = await getTask(orm.em, taskId);
      return sendJson(res, 202, { taskId, status: record?.status, api: `/api/tasks/${taskId}`, page: `/tasks/${taskId}` });
    }

    /** The task list's filters from the query string, checked against the known values before they reach a query. */
    function listFilters(url: URL): { status?: string; taskName?: string; error?: string } {
      const status = url.searchParams.get('status') || undefined;
      const taskName = url.searchParams.get('task') || undefined;
      if (status && !(Object.values(TaskStatus) as string[]).includes(status)) return { error: `status: use one of ${Object.values(TaskStatus).join(', ')}` };
      if (taskName && !taskNames.includes(taskName)) return { error: `task: use one of ${taskNames.join(', ')}` };
      return { status, taskName };
    }

    const findRecords = (filters: { status?: string; taskName?: string }) =>
      orm.em.fork().find(TaskRecord, { ...(filters.status ? { status: filters.status as TaskRecord['status'] } : {}), ...(filters.taskName ? { taskName: filters.taskName } : {}) }, {
        orderBy: { enqueuedAt: 'desc' },
        limit: 200,
      });
    const findAttempts = (record: TaskRecord) => orm.em.fork().find(TaskRecord, { rootId: record.rootId }, { orderBy: { attempt: 'asc' } });

    /** POST /tasks/:id/cancel and /tasks/:id/retry: the operator's actions, each in its own transaction. */
    async function act(id: string, action: string, res: ServerResponse): Promise<void> {
      const target = await orm.em.fork().transactional(async (em) => (action === 'cancel' ? cancelTask(em, id) : retryTask(em, id)));
      return send(res, 303, 'text/plain', 'See Other', { location: `/tasks/${target}` });
    }

    async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const action = url.pathname.match(/^\/tasks\/([^/]+)\/(cancel|retry)$/);
      if (req.method === 'POST' && action) {
        if (!UUID.test(action[1])) return sendJson(res, 400, { error: 'the task id must be a UUID' });
        return act(action[1].toLowerCase(), action[2], res);
      }
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'GET, or POST to /tasks/<id>/cancel or /tasks/<id>/retry' });
      if (url.pathname === '/trigger') return trigger(url, res);
      if (url.pathname === '/fragments/tasks') {
        const filters = listFilters(url);
        return filters.error ? sendJson(res, 400, { error: filters.error }) : sendHtml(res, 200, renderTaskRows(await findRecords(filters)));
      }
      const fragment = url.pathname.match(/^\/fragments\/tasks\/([^/]+)$/);
      if (fragment) {
        const record = UUID.test(fragment[1]) ? await getTask(orm.em, fragment[1].toLowerCase()) : null;
        return record ? sendHtml(res, 200, renderTaskDetailBody(record, await findAttempts(record))) : sendJson(res, 404, { error: 'no such task' });
      }
      const api = url.pathname.match(/^\/api\/tasks\/([^/]+)$/);
      if (api) {
        if (!UUID.test(api[1])) return sendJson(res, 400, { error: 'the task id must be a UUID, e.g. /api/tasks/3f2c6d1e-0b7a-4c1e-9f7d-2a1b3c4d5e6f' });
        const record = await getTask(orm.em, api[1].toLowerCase());
        return record ? sendJson(res, 200, record) : sendJson(res, 404, { error: 'no such task' });
      }
      const detail = url.pathname.match(/^\/tasks\/([^/]+)$/);
      if (detail) {
        if (!UUID.test(detail[1])) return sendHtml(res, 400, '<p>The task id must be a UUID. <a href="/">All tasks</a></p>');
        const record = await getTask(orm.em, detail[1].toLowerCase());
        return record
          ? sendHtml(res, 200, renderTaskDetail(record, await findAttempts(record), mode))
          : sendHtml(res, 404, `<p>No task ${escapeHtml(detail[1])}. <a href="/">All tasks</a></p>`);
      }
      if (url.pathname === '/') {
        const filters = listFilters(url);
        if (filters.error) return sendJson(res, 400, { error: filters.error });
        return sendHtml(res, 200, renderTaskList(await findRecords(filters), filters, taskNames, mode));
      }
      return sendJson(res, 404, { error: 'not found' });
    }

    const server: Server = createServer((req, res) => {
      route(req, res).catch((error: unknown) => {
      // A library validation error says what is wrong with the input (never a value or SQL); anything else
      // is logged here and answered without details: no response carries SQL or a stack.
        const invalid = error instanceof LambdaTasksError;
        if (!invalid) console.error(error);
        if (!res.headersSent) sendJson(res, invalid ? 400 : 500, { error: invalid ? (error as Error).message : 'internal error (logged on the server)' });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject); // EADDRINUSE: fail the start instead of waiting for ever
      server.listen(options.port ?? 3000, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      orm,
      sqs,
      async close() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await stopWorker();
        await orm.close(true);
      },
    };
  }
}
