/**
 * The tuning report in a real browser (Debian's chromium through playwright-core), opened from disk:
 * no request besides the file itself, and a precision-recall curve and a distribution per source.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { parseCsv, writeFixture } from './helpers.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = 'test-artifacts';

describe('tuning report in a browser', () => {
  it('opens with no network request; every source has its curve and distribution; the what-if lists ids', async () => {
    const fx = writeFixture();
    const out = join(fx.dir, 'out');
    const r = await runCli([
      'tune',
      '--events',
      fx.events,
      '--labels',
      fx.labels,
      '--banks',
      fx.banks,
      '--policy',
      fx.policy,
      '--model',
      'models/spam-scam-email-demo',
      '--candidate',
      fx.candidate,
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const sources = new Set(parseCsv(readFileSync(join(out, 'thresholds.csv'), 'utf8')).rows.map((x) => `${x.signal} ${x.source}`));
    expect(sources).toEqual(new Set(['pdq tune-bank', 'classifier spam-scam-email-demo/spam_scam', 'term tune-terms']));

    const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    try {
      const requests: string[] = [];
      context.on('request', (req) => requests.push(req.url()));
      const page = await context.newPage();
      const url = pathToFileURL(join(out, 'report.html')).href;
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForLoadState('networkidle');
      expect(requests).toEqual([url]);

      const curves = page.locator('svg.pr-curve');
      expect(await curves.count()).toBe(sources.size);
      for (const s of sources) {
        const [signal, source] = s.split(' ');
        const curve = page.locator(`svg.pr-curve[data-signal="${signal}"][data-source="${source}"]`);
        await expect.poll(() => curve.count()).toBe(1);
        expect(await curve.isVisible()).toBe(true);
        const box = await curve.boundingBox();
        expect(box?.width).toBeGreaterThan(100);
        expect(await page.locator(`svg.distribution[data-signal="${signal}"][data-source="${source}"]`).count()).toBe(1);
      }
      // The PDQ curve is a line through its points; the recommended threshold is marked on it.
      const pdq = page.locator('svg.pr-curve[data-signal="pdq"]');
      expect(Number(await pdq.getAttribute('data-points'))).toBeGreaterThan(1);
      expect(await pdq.locator('polyline.curve').count()).toBe(1);
      expect(await pdq.locator('circle.recommended').count()).toBe(1);
      expect(await page.locator('svg.distribution[data-signal="pdq"] rect.bar.positive').count()).toBeGreaterThan(0);
      expect(await page.locator('#recommendations tr[data-source="tune-bank"] td.threshold').textContent()).toBe('10');
      expect(await page.locator('#what-if .whatif-gained').textContent()).toMatch(/Flags gained: 3 \(1 true positive, 2 false positive, 0 unlabelled\)/);
      expect(await page.locator('#what-if .whatif-lost code').allTextContents()).toEqual(expect.arrayContaining(['t1', 't2', 't3', 'u1']));
      // No message text on the rendered page either.
      const text = await page.locator('body').innerText();
      expect(text).not.toMatch(/velvet teapot|purple harbour|lunch/i);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'tune-report.png'), fullPage: true });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
