/**
 * No payload-derived strings anywhere: a marker placed in key names, values and credentials must not
 * appear in any log line (every level), dead-letter entry, failure reason, metric or CLI output.
 */
import { Queue } from 'bullmq';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/core/ports.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { startScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const MARKER = 'quokka-marker-5521';
/** Its own marker: a credential is masked as a known secret, which must not hide a key-name leak. */
const CREDENTIAL = 'wombat-cred-8812';
const prefix = uniquePrefix('privacy');
afterAll(() => deletePrefix(prefix));

const base = sampleEvents().find((s) => s.event.eventId === 'demo-evt-004')?.event as Record<string, unknown>;
/** Each payload hides the marker somewhere a careless error message would copy it from. */
const poisoned: Record<string, unknown>[] = [
  { ...base, eventId: 'p-key', [MARKER]: 'x' }, // unknown top-level key
  { ...base, eventId: 'p-value', [`${MARKER}-k`]: MARKER }, // unknown key with the marker as value too
  { ...base, eventId: 'p-media-key', text: undefined, media: [{ id: 'm1', mimeType: 'image/png', bytes: '', [MARKER]: 1 }] },
  { ...base, eventId: 'p-signal-key', context: { accountSignals: { [MARKER]: { nested: MARKER } } } }, // record key with a bad value
  { ...base, eventId: 'p-text', text: 42, [MARKER]: MARKER },
  { ...base, eventId: 'p-locale', context: { locale: MARKER } }, // a value that fails its rule
];

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('privacy of payload keys, values and credentials', () => {
  it('the worker: logs at every level, dead letters, failure reasons and metrics carry no marker', async () => {
    const chunks: string[] = [];
    const logs = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) });
    const port = await freePort();
    // The credential carries the marker too (this Redis has no password, so any is accepted).
    const url = REDIS_URL.replace('redis://', `redis://default:${CREDENTIAL}@`);
    const banksDir = mkdtempSync(join(tmpdir(), 'vigil-banks-'));
    cpSync('config/samples/banks', banksDir, { recursive: true });
    const config = testConfig(prefix, { redisUrl: url, banksDir, metricsPort: port });
    const service = await startScanService(config, createLogger('trace', logs));
    const scan = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
    const dead = new Queue(config.deadLetterQueue, { connection: { url: REDIS_URL }, prefix });
    try {
      // Straight onto the queue, as a producer that skipped validation would.
      for (const p of poisoned) await scan.add('scan', p, { jobId: String(p.eventId) });
      const entries = await waitFor('every poisoned event dead-lettered', async () => {
        const d = (await dead.getJobs(['waiting'])).map((j) => j.data as DeadLetter);
        return d.length >= poisoned.length ? d : undefined;
      });
      expect(entries.map((e) => e.code).sort()).toEqual(Array(poisoned.length).fill('EVENT_INVALID'));
      const failed = await scan.getJobs(['failed', 'completed']);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const everything = JSON.stringify({ logs: chunks, entries, failed: failed.map((j) => [j.failedReason, j.returnvalue]), metrics });
      expect(chunks.length).toBeGreaterThan(poisoned.length); // the warn lines were written, at trace level
      expect(everything).not.toContain(MARKER);
      expect(everything).not.toContain(CREDENTIAL);
      // The reasons still say what was wrong, by path and rule.
      expect(entries.find((e) => e.eventId === 'p-key')?.message).toBe(
        'invalid vigil.message.v1 event: (root): 1 unknown field(s) (not part of vigil.message.v1)',
      );
      expect(entries.find((e) => e.eventId === 'p-signal-key')?.message).toMatch(/^invalid vigil\.message\.v1 event: context\.accountSignals\.\*: /);
    } finally {
      await service.stop();
      await scan.close();
      await dead.close();
    }
  });

  it('the CLI: publish and the offline scan print no marker on stdout or stderr', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-privacy-')), 'events.jsonl');
    writeFileSync(file, `${poisoned.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const env = { REDIS_URL: REDIS_URL.replace('redis://', `redis://default:${CREDENTIAL}@`), VIGIL_QUEUE_PREFIX: prefix, VIGIL_LOG_LEVEL: 'trace' };
    const published = await runCli(['publish', file, '--json'], { env, spawn: true });
    const scanned = await runCli(['scan', '--events', file, '--banks', 'config/samples/banks'], { env: { VIGIL_LOG_LEVEL: 'trace' }, spawn: true });
    for (const r of [published, scanned]) {
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').filter((l) => l.includes('EVENT_INVALID')).length).toBeGreaterThanOrEqual(poisoned.length);
      expect(r.stdout + r.stderr).not.toContain(MARKER);
      expect(r.stdout + r.stderr).not.toContain(CREDENTIAL);
    }
    // A malformed REDIS_URL with the marker as password is refused without printing it.
    const badUrl = await runCli(['queues'], { env: { REDIS_URL: `http://user:${CREDENTIAL}@host:1` }, spawn: true });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('REDIS_URL');
    expect(badUrl.stderr).not.toContain(CREDENTIAL);
  });
});
