import { startHelloExample, type HelloExample } from '../../examples/hello/app';
import { resetLambdaTasksConfig } from '../../src/runtime/config';
import { engine } from '../support/database';

describe(`The hello example (${engine}, eager mode)`, () => {
  let example: HelloExample;

  beforeAll(async () => {
    // Always on embedded PGlite, as `npm run example` runs on a fresh machine.
    example = await startHelloExample({ port: 0, databaseUrl: '' });
    jest.spyOn(console, 'info').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await example.close();
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
    expect(((await bad.json()) as { error: string }).error).toMatch(/Task "hello.sayHello": args: name: /);
    expect((await get('/api/tasks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
