/**
 * The dashboard's Triggers page in a real browser (headless Chromium through puppeteer-core): each trigger with its
 * next fire times and state, Pause and Fire now acting through the API, and the runs list saying which trigger
 * started a run. A real server, catalog, run manager and store; skipped without a Chromium binary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/serve.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { MemoryClaims } from '../src/service/triggers/claims.js';
import { TriggerService } from '../src/service/triggers/trigger-service.js';
import { MemoryRunStore } from '../src/store/memory-store.js';
import { OfflineProvider } from '../src/llm/offline.js';
import { chromiumPath, launchBrowser, watchProblems, type TestBrowser } from './support/browser.js';

const CHROME = chromiumPath();
if (!CHROME) console.log('triggers dashboard test skipped: no Chromium binary (apt-get install -y chromium)');

describe.skipIf(!CHROME)('the Triggers page (headless Chromium)', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let browser: TestBrowser;
  let service: TriggerService;

  beforeAll(async () => {
    const workflow = {
      name: 'job',
      triggers: [
        { name: 'nightly', schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' } },
        { name: 'ping', event: 'ping' },
      ],
      tasks: [{ id: 'a', tool: 'echo', input: { value: 1 } }],
    };
    const catalog = await WorkflowCatalog.load([workflow as never]);
    const store = new MemoryRunStore();
    const runs = new RunManager({ catalog, store });
    service = new TriggerService({ catalog, runs, claims: new MemoryClaims() });
    server = await startServer({ catalog, runs, llm: new OfflineProvider(), store, port: 0, triggers: service });
    browser = await launchBrowser(CHROME!);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists triggers with next fire times; Pause and Fire now act; the runs list names the trigger', async () => {
    const delivered = await service.deliver({ name: 'ping', id: 'p-1' });
    const page = await browser.browser.newPage();
    const problems = watchProblems(page);
    await page.goto(`${server.url}/#/triggers`);
    await page.waitForSelector('tr[data-trigger="job:nightly"][data-state="active"]');
    const next = await page.$eval('tr[data-trigger="job:nightly"] td:nth-child(4)', (td) => td.innerHTML);
    expect(next.split('<br>')).toHaveLength(3);
    expect(await page.$eval('tr[data-trigger="job:ping"]', (tr) => tr.textContent)).toContain(delivered.runs[0].runId);

    await page.click('tr[data-trigger="job:nightly"] button:first-of-type');
    await page.waitForSelector('tr[data-trigger="job:nightly"][data-state="paused"]');
    expect(await service.paused('job:nightly')).toBe(true);

    await page.click('tr[data-trigger="job:nightly"] button:nth-of-type(2)');
    await page.waitForSelector('tr[data-trigger="job:nightly"] td:nth-child(5) a');
    const runId = await page.$eval('tr[data-trigger="job:nightly"] td:nth-child(5) a code', (c) => c.textContent);
    expect(runId).toMatch(/-t[0-9a-f]{10}$/);

    await page.goto(`${server.url}/#/runs`);
    await page.waitForSelector(`tr[data-run="${runId}"] [data-trigger="nightly"]`);
    await page.waitForSelector(`tr[data-run="${delivered.runs[0].runId}"] [data-trigger="ping"]`);
    expect(problems).toEqual([]);
    await page.close();
  });
});
