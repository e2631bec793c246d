/**
 * End to end in a real browser (Debian's chromium through playwright-core): a scan worker with its
 * ops server and dashboard; ops log in, see the three queues with their counts, open a dead-lettered
 * job and see its error code, and nowhere on the pages is the message text. Screenshots are kept in
 * test-artifacts/ (gitignored).
 */
import { Queue } from 'bullmq';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterId } from '../../src/adapters/bullmq/queues.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { freePort } from './helpers.js';

const TOKEN = 'browser-test-token-5f1e2d3c4b5a6978';
const MARKER = 'quokka-lantern-8812';
const ARTIFACTS = 'test-artifacts';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function browser(credentials?: { username: string; password: string }): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    ...(credentials ? { httpCredentials: credentials } : {}),
  });
  cleanups.push(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

describe('ops dashboard in a browser', () => {
  it('logs in, sees the three queues with counts, opens a dead-lettered job: error code shown, message text nowhere', async () => {
    const prefix = uniquePrefix('ops-browser');
    const port = await freePort();
    const banks = mkdtempSync(join(tmpdir(), 'vigil-ops-banks-'));
    cpSync('config/samples/banks', banks, { recursive: true });
    const config = testConfig(prefix, { banksDir: banks, opsPort: port, opsDashboard: true, opsToken: TOKEN });
    cleanups.push(() => deletePrefix(prefix));
    const service = await startScanService(config, createLogger('silent'));
    cleanups.push(() => service.stop());
    const publisher = createPublisher({ connection: REDIS_URL, prefix, dedupeTtlMs: config.dedupeTtlMs });
    cleanups.push(() => publisher.close());
    const base = sampleEvents().find((s) => s.event.eventId === 'demo-evt-008')?.event as Record<string, unknown>;
    // An image that is not an image, with the marker in its text: dead-lettered MEDIA_UNSUPPORTED.
    const poisoned = { ...base, eventId: 'evt-browser-dead', text: `private words ${MARKER}` };
    await publisher.publish(poisoned);
    await publisher.publish({ ...base, eventId: 'evt-browser-flag', media: [], text: `the velvet teapot ${MARKER}` });
    const dead = new Queue(config.deadLetterQueue, { connection: { url: REDIS_URL }, prefix });
    const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(async () => void (await Promise.all([dead.close(), moderation.close()])));
    await waitFor('a dead letter and a flag', async () =>
      (await dead.getJobCounts('waiting')).waiting === 1 && (await moderation.getJobCounts('prioritized')).prioritized === 1 ? true : undefined,
    );
    // One more event waits on the scan queue (worker paused), with the marker in its text and bytes.
    await service.worker.worker.pause();
    await publisher.publish({
      ...poisoned,
      eventId: 'evt-browser-waiting',
      media: [{ id: 'm1', mimeType: 'image/png', bytes: Buffer.from(MARKER).toString('base64') }],
    });
    const dashboard = `http://127.0.0.1:${port}/dashboard`;

    // No credentials: refused.
    const anonymous = await browser();
    // Chromium answers a Basic challenge it has no credentials for with a navigation error.
    const refused = await anonymous.newPage().then((p) =>
      p.goto(dashboard).then(
        () => 'loaded',
        (e: Error) => e.message,
      ),
    );
    expect(refused).toContain('ERR_INVALID_AUTH_CREDENTIALS');
    expect((await anonymous.request.get(dashboard)).status()).toBe(401);

    mkdirSync(ARTIFACTS, { recursive: true });
    const context = await browser({ username: 'oncall', password: TOKEN });
    const page = await context.newPage();
    const home = await page.goto(dashboard);
    expect(home?.status()).toBe(200);
    for (const name of [config.scanQueue, config.moderationQueue, config.deadLetterQueue])
      await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.getByText('Loading', { exact: false }).first().waitFor({ state: 'hidden', timeout: 15_000 });
    // Each queue's card on the overview: its name, then (after the workers line) its job count.
    const overview = await page.locator('main').innerText();
    for (const name of [config.scanQueue, config.moderationQueue, config.deadLetterQueue]) expect(overview).toMatch(new RegExp(`${name}\n(?:[^\n]*\n)?1 Job`));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-queues.png'), fullPage: true });
    // Counts as the board shows them, from its own API call.
    const counts = await page.evaluate(
      async () => (await (await fetch('/dashboard/api/queues')).json()) as { queues: Array<{ name: string; counts: Record<string, number> }> },
    );
    const byName = Object.fromEntries(counts.queues.map((q) => [q.name, q.counts]));
    expect(byName[config.scanQueue]?.waiting).toBe(1);
    expect(byName[config.moderationQueue]?.prioritized).toBe(1);
    expect(byName[config.deadLetterQueue]?.waiting).toBe(1);
    const pages = [await page.content()];

    // The dead-lettered job: its code is on the page, the message text is not.
    const jobId = deadLetterId({
      code: 'MEDIA_UNSUPPORTED',
      message: '',
      origin: { kind: 'bullmq', queue: config.scanQueue, jobId: 'evt-browser-dead' },
      mediaId: 'm1',
      at: '',
    });
    await page.goto(`${dashboard}/queue/${config.deadLetterQueue}/${jobId}`);
    await page.getByText('MEDIA_UNSUPPORTED').first().waitFor({ timeout: 15_000 });
    await page.getByText('evt-browser-dead').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-dead-letter.png'), fullPage: true });
    pages.push(await page.content());

    // The waiting scan job: ids shown, text and bytes redacted.
    await page.goto(`${dashboard}/queue/${config.scanQueue}/evt-browser-waiting`);
    await page.getByText('redacted', { exact: false }).first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-scan-job.png'), fullPage: true });
    pages.push(await page.content());

    for (const html of pages) {
      expect(html).not.toContain(MARKER);
      expect(html).not.toContain('private words');
      expect(html).not.toContain(Buffer.from(MARKER).toString('base64'));
    }
  });
});
