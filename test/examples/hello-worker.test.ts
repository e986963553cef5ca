import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startHelloExample, type HelloExample } from '../../examples/hello/app';
import { resetLambdaTasksConfig } from '../../src/runtime/config';
import { START_TIMEOUT_MS } from '../support/worker-environment';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve(__dirname, '../../test-reports/screenshots');

describe('The hello example in worker mode (fauxqs → runLocalWorker → createHandler)', () => {
  let example: HelloExample;

  beforeAll(async () => {
    jest.spyOn(console, 'info').mockImplementation(() => undefined);
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    example = await startHelloExample({ port: 0, databaseUrl: '', worker: true });
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await example?.close();
    jest.restoreAllMocks();
    resetLambdaTasksConfig();
  });

  const get = (p: string) => fetch(`${example.url}${p}`);

  async function pollUntil(taskId: string, done: (status: string) => boolean): Promise<{ status: string; messageId: string | null }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const record = (await (await get(`/api/tasks/${taskId}`)).json()) as { status: string; messageId: string | null };
      if (done(record.status) || Date.now() > deadline) return record;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('reaches SUCCESS through the queue and the handler: QUEUED first, with the SQS message id after', async () => {
    const { taskId, status } = (await (await get('/trigger?name=Queued')).json()) as { taskId: string; status: string };
    expect(status).toBe('QUEUED');
    const record = await pollUntil(taskId, (s) => s === 'SUCCESS');
    expect(record.status).toBe('SUCCESS');
    expect(record.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends a malformed message to the DLQ after one receive', async () => {
    const { fauxqs, queue } = example.sqs!;
    await fauxqs.client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'not a task' }));
    const deadline = Date.now() + 10_000;
    while ((await fauxqs.count(queue.dlqUrl)).total === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const dead = await fauxqs.drain(queue.dlqUrl);
    expect(dead.map((m) => m.Body)).toEqual(['not a task']);
    expect(Date.now()).toBeLessThan(deadline); // visibility 0 on failure: no 30 s wait for the redrive
  });

  const linuxIt = existsSync('/proc/net/tcp') ? it : it.skip;
  linuxIt('keeps its local SQS server on 127.0.0.1, not on every interface', () => {
    const port = Number(new URL(example.sqs!.fauxqs.endpoint).port);
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    // Listening sockets (state 0A) on that port, by local address, from the kernel's tables.
    const listening = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
      readFileSync(table, 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((f) => f.length > 3 && f[3] === '0A' && f[1].endsWith(`:${hexPort}`)).map((f) => f[1].split(':')[0]));
    expect(listening).toEqual(['0100007F']); // 127.0.0.1, and nothing on 0.0.0.0 or ::
  });

  const browserIt = existsSync(CHROMIUM) ? it : it.skip;

  /** Runs `use` with a page of a fresh headless Chromium, closed afterwards whatever happens. */
  async function withPage(viewport: { width: number; height: number }, use: (page: Page) => Promise<void>): Promise<void> {
    mkdirSync(SCREENSHOTS, { recursive: true });
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      await use(await browser.newPage({ viewport }));
    } finally {
      await browser?.close();
    }
  }
  browserIt('works in a real browser: trigger, filter by status, open the detail view', async () => {
    await withPage({ width: 1280, height: 800 }, async (page) => {
      // Hostile input first: each is a 400 in the browser too, and the page still works afterwards.
      for (const bad of ['/trigger?task=constructor', '/trigger?name=a%00b', `/api/tasks/${'-'.repeat(36)}`, '/?task=a;b']) {
        const response = await page.goto(`${example.url}${bad}`);
        expect(response?.status()).toBe(400);
        expect(await page.content()).not.toMatch(/task_record|\n\s+at /);
      }
      await page.goto(example.url);
      await page.fill('input[name="name"]', 'Browser');
      await page.selectOption('select[name="task"]', 'failsOnPurpose');
      await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/), page.click('#trigger')]);
      const taskId = page.url().split('/').pop()!;
      await pollUntil(taskId, (s) => s === 'FAILED');
      await page.goto(`${example.url}/?status=FAILED`);
      const row = page.locator(`tr[data-task-id="${taskId}"]`);
      await row.waitFor();
      expect(await row.locator('.badge').textContent()).toBe('FAILED');
      expect(await page.locator('.badge[data-status="SUCCESS"]').count()).toBe(0);
      await row.locator('summary').click();
      expect(await row.locator('pre').isVisible()).toBe(true);
      expect(await row.locator('pre').textContent()).toContain('LlamaUnavailable: no llama available to greet Browser');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'hello-task-list.png'), fullPage: true });
      await row.locator('a').first().click();
      await page.waitForURL(new RegExp(`/tasks/${taskId}$`));
      expect(await page.locator('h2 .badge').textContent()).toBe('FAILED');
      expect(await page.locator('#traceback').textContent()).toContain('LlamaUnavailable');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'hello-task-detail.png'), fullPage: true });
    });
  }, 60_000);

  browserIt('is an operator dashboard: a task goes QUEUED → SUCCESS on the open page, a queued one is cancelled, a failed one is replayed', async () => {
    await withPage({ width: 1400, height: 900 }, async (page) => {
      const badgeOf = (taskId: string) => page.locator(`tr[data-task-id="${taskId}"] .badge`);
      // Page-side expressions as strings (the test compiles without the DOM types); ids are UUIDs, statuses fixed words.
      const waitForBadge = (taskId: string, status: string) =>
        page.waitForFunction(`document.querySelector('tr[data-task-id="${taskId}"] .badge')?.textContent === '${status}'`, undefined, { timeout: 20_000 });

      // Live: the list page stays open (no reload: the marker survives) while the task is queued, then runs.
      await page.goto(example.url);
      await page.evaluate('window.notReloaded = true');
      const live = (await (await get('/trigger?name=Live&delay=5')).json()) as { taskId: string };
      await waitForBadge(live.taskId, 'QUEUED');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'operator-live-queued.png'), fullPage: true });
      await waitForBadge(live.taskId, 'SUCCESS');
      expect(await page.evaluate('window.notReloaded')).toBe(true);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'operator-live-success.png'), fullPage: true });

      // Cancel: a task delayed by ten minutes stays QUEUED; its Cancel button makes it CANCELLED.
      const later = (await (await get('/trigger?name=Later&delay=600')).json()) as { taskId: string };
      await waitForBadge(later.taskId, 'QUEUED');
      expect(await page.locator(`tr[data-task-id="${later.taskId}"] [data-action="retry"]`).count()).toBe(0);
      await Promise.all([page.waitForURL(new RegExp(`/tasks/${later.taskId}$`)), page.locator(`tr[data-task-id="${later.taskId}"] [data-action="cancel"]`).click()]);
      expect(await page.locator('h2 .badge').textContent()).toBe('CANCELLED');
      expect((await pollUntil(later.taskId, () => true)).status).toBe('CANCELLED');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'operator-cancelled.png'), fullPage: true });

      // Replay: a FAILED task's Retry button runs attempt 2; its page shows both attempts.
      const failed = (await (await get('/trigger?name=Replay&task=failsOnPurpose')).json()) as { taskId: string };
      await pollUntil(failed.taskId, (s) => s === 'FAILED');
      await page.goto(`${example.url}/tasks/${failed.taskId}`);
      expect(await page.locator('[data-action="cancel"]').count()).toBe(0);
      await Promise.all([page.waitForURL((url) => /\/tasks\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(failed.taskId)), page.locator('[data-action="retry"]').click()]);
      await page.waitForFunction(
        'document.querySelectorAll(\'#attempts tbody tr\').length === 2 && document.querySelector(\'#attempts tr[data-attempt="2"] .badge\')?.textContent === \'FAILED\'',
        undefined,
        { timeout: 20_000 },
      );
      expect(await page.locator('#attempts tr[data-attempt="1"] .badge').textContent()).toBe('FAILED');
      expect(await page.locator('#attempts tr.current').getAttribute('data-attempt')).toBe('2');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'operator-replayed.png'), fullPage: true });

      // The list filtered by status, with the actions where they apply.
      await page.goto(`${example.url}/?status=CANCELLED`);
      expect(await badgeOf(later.taskId).textContent()).toBe('CANCELLED');
      expect(await page.locator(`tr[data-task-id="${later.taskId}"] [data-action="retry"]`).count()).toBe(1);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'operator-filtered.png'), fullPage: true });
    });
  }, 90_000);
});
