import { startHelloExample, type HelloExample } from '../../examples/hello/app';
import { resetLambdaTasksConfig } from '../../src/runtime/config';
import { engine } from '../support/database';
import { START_TIMEOUT_MS } from '../support/worker-environment';

describe(`The hello example (${engine}, eager mode)`, () => {
  let example: HelloExample;

  beforeAll(async () => {
    // Always on embedded PGlite, as `npm run example` runs on a fresh machine.
    example = await startHelloExample({ port: 0, databaseUrl: '' });
    jest.spyOn(console, 'info').mockImplementation(() => undefined);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    jest.restoreAllMocks();
    await example?.close();
    resetLambdaTasksConfig();
  });

  const get = (path: string) => fetch(`${example.url}${path}`, { redirect: 'manual' });

  async function pollUntilDone(taskId: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const record = (await (await get(`/api/tasks/${taskId}`)).json()) as Record<string, unknown>;
      if (record.status === 'SUCCESS' || record.status === 'FAILED' || Date.now() > deadline) return record;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('/trigger?name=Alice enqueues sayHello with the app row and answers with the task id; /api/tasks/:id reaches SUCCESS', async () => {
    const response = await get('/trigger?name=Alice');
    expect(response.status).toBe(202);
    const { taskId } = (await response.json()) as { taskId: string };
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    const record = await pollUntilDone(taskId);
    expect(record).toMatchObject({ id: taskId, taskName: 'hello.sayHello', status: 'SUCCESS', kwargs: { name: 'Alice' }, result: { greeting: 'Hello, Alice!' } });
    const [visits] = await example.orm.em.fork().getConnection().execute("select count(*)::int as n from visit where name = 'Alice'");
    expect(visits.n).toBe(1);
  });

  it('shows the failing task as FAILED with its traceback on the page and in the detail view', async () => {
    const { taskId } = (await (await get('/trigger?name=Bob&task=failsOnPurpose')).json()) as { taskId: string };
    expect(await pollUntilDone(taskId)).toMatchObject({ status: 'FAILED' });
    const page = await (await get('/?status=FAILED')).text();
    expect(page).toContain(`data-task-id="${taskId}"`);
    expect(page).toMatch(/<span class="badge" data-status="FAILED"[^>]*>FAILED<\/span>/);
    expect(page).toContain('LlamaUnavailable: no llama available to greet Bob');
    expect(page).not.toContain('data-status="SUCCESS"'); // filtered by status
    const detail = await (await get(`/tasks/${taskId}`)).text();
    expect(detail).toMatch(/<pre id="traceback">LlamaUnavailable: no llama available to greet Bob\n\s+at /);
  });

  it('runs the slow task for about two seconds', async () => {
    const { taskId } = (await (await get('/trigger?name=Carol&task=slowReport')).json()) as { taskId: string };
    const record = await pollUntilDone(taskId);
    expect(record.status).toBe('SUCCESS');
    expect(Date.parse(record.endTime as string) - Date.parse(record.startTime as string)).toBeGreaterThanOrEqual(1900);
  });

  it('filters by task name and escapes what it shows', async () => {
    await get(`/trigger?name=${encodeURIComponent('<script>alert(1)</script>')}`);
    const page = await (await get('/?task=hello.sayHello')).text();
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('hello.failsOnPurpose</a>');
  });

  it('redirects the page form to the task detail, and answers bad input with a clear 400', async () => {
    const redirect = await get('/trigger?name=Dan&redirect=1');
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toMatch(/^\/tasks\/[0-9a-f-]{36}$/);
    const bad = await get('/trigger?name=');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^name must be 1 to 100 characters/);
    expect((await get('/api/tasks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it.each<[string, string, number, RegExp]>([
    ['a task name that is an Object.prototype key', '/trigger?task=constructor', 400, /^task: unknown task; use one of sayHello/],
    ['__proto__ as the task', '/trigger?task=__proto__', 400, /^task: unknown task/],
    ['toString as the task', '/trigger?task=toString', 400, /^task: unknown task/],
    ['a name over the column length', `/trigger?name=${'x'.repeat(101)}`, 400, /^name must be 1 to 100 characters/],
    ['a name with a NUL byte', '/trigger?name=a%00b', 400, /^name must not contain U\+0000/],
    ['an id of 36 dashes (API)', `/api/tasks/${'-'.repeat(36)}`, 400, /^the task id must be a UUID/],
    ['an id that is not a UUID (API)', '/api/tasks/1%27%20or%201=1', 400, /^the task id must be a UUID/],
    ['a filter with a semicolon', '/?task=a;b', 400, /^task: use one of hello\.sayHello/],
    ['an unknown status filter', '/?status=DONE;DROP', 400, /^status: use one of QUEUED/],
  ])('answers %s (%s) with a %i that says what is wrong, and no SQL or stack', async (_what, path, status, error) => {
    const response = await get(path);
    expect(response.status).toBe(status);
    const body = await response.text();
    expect((JSON.parse(body) as { error: string }).error).toMatch(error);
    expect(body).not.toMatch(/insert into|select |task_record|\n\s+at /i);
  });

  it('finds a task by an upper-case id, does not redirect on redirect=0, and still serves the page after bad input', async () => {
    const created = (await (await get('/trigger?name=Erin')).json()) as { taskId: string };
    const upper = await get(`/api/tasks/${created.taskId.toUpperCase()}`);
    expect(upper.status).toBe(200);
    expect(((await upper.json()) as { id: string }).id).toBe(created.taskId);
    expect((await get('/tasks/' + '-'.repeat(36))).status).toBe(400);
    const noRedirect = await get('/trigger?name=Fay&redirect=0');
    expect(noRedirect.status).toBe(202);
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Erin');
  });
});
