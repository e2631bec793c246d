/**
 * The classifiers on the scan path: the same scores through `vigil classify`, the offline scan and a
 * worker behind the real queue; the policy's cascade decides (and counts) which items are classified;
 * the flag carries the classifier evidence with the threshold that applied, never the content.
 */
import { Queue } from 'bullmq';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Flag, MessageEventInput } from '../../src/core/contracts.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { SAMPLES_DIR, tempDir } from './helpers.js';

const SLOW = 120_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const GARDEN = join(SAMPLES_DIR, 'garden-checker.png'); // in no bank: the cascade sends it to the model
const TEAPOT = join(SAMPLES_DIR, 'teapot-still-life.png'); // its MD5 is in the sample bank: not classified
const SPAMMY = 'claim your free prize now, reply with your bank details to receive the cash transfer';

/** Benign images flag here only because this test policy reviews anything the model calls `neutral`. */
function testPolicy(): string {
  const file = join(tempDir('cascade-policy'), 'policy.yaml');
  writeFileSync(
    file,
    `version: 2
classifiers:
  image: { run: unmatched }
  text: { run: always, when: { context: { reported: true } } }
rules:
  - id: hashes
    when: { signal: { type: [md5, sha1, sha256, pdq] } }
    category: known_media
    severity: high
    action: escalate
  - id: neutral-images
    when: { signal: { type: classifier, label: neutral, minScore: 0.5 } }
    category: test_neutral
    severity: low
    action: review
  - id: spam-text
    when: { signal: { type: classifier, label: spam_scam, minScore: 0.1 } }
    category: test_spam
    severity: low
    action: review
`,
  );
  return file;
}

function event(eventId: string, extra: Partial<MessageEventInput>): MessageEventInput {
  return {
    schema: 'vigil.message.v1',
    eventId,
    messageId: `msg-${eventId}`,
    conversationId: 'conv-cascade',
    senderId: 'user-a',
    recipientIds: ['user-b'],
    sentAt: '2026-12-01T12:00:00.000Z',
    ...extra,
  };
}

const png = (file: string, id: string) => ({ id, mimeType: 'image/png', bytes: readFileSync(file).toString('base64') });

const classifierSignal = (flag: Flag | undefined, label: string) => flag?.signals.find((s) => s.type === 'classifier' && s.label === label);

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('classifiers on the scan path', () => {
  it(
    'a worker behind the real queue classifies only where the cascade says, counts it, and flags with the same scores as `vigil classify` and `vigil scan`',
    async () => {
      const prefix = uniquePrefix('cascade');
      const policyFile = testPolicy();
      const config = testConfig(prefix, {
        policyFile,
        banksDir: 'config/samples/banks',
        imageModel: 'nsfw-mobilenet-v2',
        textModel: 'spam-scam-email-demo',
        classifierThreads: 1,
      });
      const service = await startScanService(config, createLogger('silent'));
      cleanups.push(async () => {
        await service.stop();
        await deletePrefix(prefix);
      });
      const publisher = createPublisher({ connection: REDIS_URL, prefix });
      const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
      cleanups.push(async () => {
        await publisher.close();
        await moderation.close();
      });
      expect(service.runtime.scanner.sources().media.map((s) => s.id)).toEqual(['hashes', 'image-classifier']);

      const events = [
        // Two images: the banked one is already matched (no model run), the other is classified.
        event('cascade-img', { media: [png(TEAPOT, 'banked'), png(GARDEN, 'fresh')] }),
        // Text in an unreported conversation: the text cascade's condition is false.
        event('cascade-text-quiet', { text: SPAMMY }),
        // The same text, reported: classified.
        event('cascade-text-reported', { text: SPAMMY, context: { reportId: 'report-1' } }),
      ];
      for (const e of events) await publisher.publish(e);
      const flags = await waitFor(
        'the classifier flags',
        async () => {
          const all = (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag);
          const image = all.find((f) => f.eventId === 'cascade-img' && f.category === 'test_neutral');
          const text = all.find((f) => f.eventId === 'cascade-text-reported' && f.category === 'test_spam');
          const hash = all.find((f) => f.eventId === 'cascade-img' && f.category === 'known_media');
          return image && text && hash ? { image, text, hash, all } : undefined;
        },
        60_000,
      );
      // Flags are evidence only: model id, version, label, score and threshold; never the content.
      const neutral = classifierSignal(flags.image, 'neutral');
      expect(neutral).toMatchObject({ sourceId: 'nsfw-mobilenet-v2', sourceVersion: 'nsfwjs-4.3.0', mediaId: 'fresh', threshold: 0.5 });
      expect(flags.image.modelVersions).toMatchObject({ 'nsfw-mobilenet-v2': 'nsfwjs-4.3.0', 'spam-scam-email-demo': expect.any(String) });
      expect(flags.image.signals.every((s) => s.mediaId === 'fresh')).toBe(true);
      expect(JSON.stringify(flags.all)).not.toContain('bank details');
      expect(classifierSignal(flags.text, 'spam_scam')).toMatchObject({ sourceId: 'spam-scam-email-demo', threshold: 0.1 });
      expect(flags.all.some((f) => f.eventId === 'cascade-text-quiet')).toBe(false);

      await waitFor('the cascade counts', async () => {
        const text = await service.metrics.registry.metrics();
        const count = (kind: string, classified: string, reason: string) => metricValue(text, 'vigil_classifier_cascade_total', { kind, classified, reason });
        return count('text', 'true', 'always') === 1 ? text : undefined;
      });
      const metrics = await service.metrics.registry.metrics();
      const count = (kind: string, classified: string, reason: string) => metricValue(metrics, 'vigil_classifier_cascade_total', { kind, classified, reason });
      expect(count('image', 'true', 'unmatched')).toBe(1);
      expect(count('image', 'false', 'already_matched')).toBe(1);
      expect(count('text', 'false', 'condition_false')).toBe(1);
      expect(count('text', 'true', 'always')).toBe(1);
      expect(metricValue(metrics, 'vigil_stage_seconds_count', { stage: 'classify' })).toBeGreaterThanOrEqual(2);

      // The same image through `vigil classify` and through the offline `vigil scan`: the same scores.
      const classified = await runCli(['classify', '--json', GARDEN]);
      expect(classified.code).toBe(0);
      const cliScores = (JSON.parse(classified.stdout.trim()) as { scores: Record<string, number> }).scores;
      const eventsFile = join(tempDir('cascade-events'), 'events.jsonl');
      writeFileSync(eventsFile, `${JSON.stringify(events[0])}\n`);
      const offline = await runCli(['scan', '--events', eventsFile, '--policy', policyFile, '--banks', 'config/samples/banks'], {
        env: { VIGIL_IMAGE_MODEL: 'nsfw-mobilenet-v2' },
      });
      expect(offline.code).toBe(0);
      const offlineFlag = offline.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Flag)
        .find((f) => f.category === 'test_neutral');
      const workerScore = neutral?.score ?? NaN;
      expect(classifierSignal(offlineFlag, 'neutral')?.score).toBeCloseTo(workerScore, 4);
      expect(cliScores.neutral).toBeCloseTo(workerScore, 4);
    },
    SLOW,
  );
});
