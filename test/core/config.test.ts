import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReference, describeConfig, loadConfig } from '../../src/config.js';
import type { VigilError } from '../../src/core/errors.js';

function file(yaml: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'vigil-config-')), 'vigil.yaml');
  writeFileSync(p, yaml);
  return p;
}

describe('config', () => {
  it('defaults, then file, then environment, then overrides', () => {
    expect(loadConfig({ env: {} })).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'bull',
      scanQueue: 'vigil-scan',
      moderationQueue: 'vigil-moderation',
      deadLetterQueue: 'vigil-dead-letter',
      concurrency: 16,
      dedupeTtlMs: 86_400_000,
    });
    const f = file('concurrency: 4\nqueuePrefix: "{vigil}"\n');
    expect(loadConfig({ env: {}, file: f })).toMatchObject({ concurrency: 4, queuePrefix: '{vigil}' });
    expect(loadConfig({ env: { VIGIL_CONFIG: f, VIGIL_CONCURRENCY: '8' } }).concurrency).toBe(8);
    expect(loadConfig({ env: { VIGIL_CONCURRENCY: '8' }, overrides: { concurrency: '2' } }).concurrency).toBe(2);
  });

  it('thread counts: auto follows the cores (classifier: one per core, PDQ: one per core but one; both at most 4)', () => {
    const cores = availableParallelism();
    expect(loadConfig({ env: {} }).classifierThreads).toBe(Math.min(4, cores));
    expect(loadConfig({ env: {} }).pdqThreads).toBe(Math.min(4, Math.max(0, cores - 1)));
    expect(loadConfig({ env: { VIGIL_CLASSIFIER_THREADS: '3', VIGIL_PDQ_THREADS: '0' } })).toMatchObject({ classifierThreads: 3, pdqThreads: 0 });
    expect(() => loadConfig({ env: { VIGIL_CLASSIFIER_THREADS: '0' } })).toThrow(/VIGIL_CLASSIFIER_THREADS/);
  });

  it('is frozen', () => {
    const c = loadConfig({ env: {} });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every bad variable, and never shows a secret', () => {
    const err = (() => {
      try {
        loadConfig({ env: { VIGIL_CONCURRENCY: '0', REDIS_URL: 'http://x', KAFKA_SASL_MECHANISM: 'magic', KAFKA_SASL_PASSWORD: '' } });
      } catch (e) {
        return e as VigilError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('CONFIG_INVALID');
    expect(err?.message).toContain('VIGIL_CONCURRENCY (concurrency) = "0"');
    expect(err?.message).toContain('REDIS_URL (redisUrl)');
    expect(err?.message).toContain('KAFKA_SASL_MECHANISM');
    const masked = describeConfig(loadConfig({ env: { KAFKA_SASL_PASSWORD: 'hunter2', REDIS_URL: 'redis://user:pw@10.0.0.1:6379' } }));
    expect(JSON.stringify(masked)).not.toContain('hunter2');
    expect(JSON.stringify(masked)).not.toContain(':pw@');
  });

  it('rejects unknown keys in the file and inconsistent watermarks', () => {
    expect(() => loadConfig({ env: {}, file: file('concurency: 4\n') })).toThrowError(/unknown key\(s\) concurency/);
    expect(() => loadConfig({ env: { VIGIL_BRIDGE_LOW_WATERMARK: '10', VIGIL_BRIDGE_HIGH_WATERMARK: '5' } })).toThrowError(/LOW_WATERMARK must be below/);
    expect(() => loadConfig({ env: {}, file: '/nonexistent/vigil.yaml' })).toThrowError(/cannot read config file/);
  });

  it('reference lists every key with its variable and default', () => {
    expect(configReference()).toMatch(/VIGIL_CONCURRENCY\s+concurrency\s+default: 16/);
  });

  it('the bank store defaults to REDIS_URL, can be its own Redis, and its credentials are masked', () => {
    expect(loadConfig({ env: { REDIS_URL: 'redis://queue:6379' } }).bankRedisUrl).toBe('redis://queue:6379');
    const config = loadConfig({ env: { REDIS_URL: 'redis://queue:6379', VIGIL_BANK_REDIS_URL: 'redis://:s3cret@banks:6379' } });
    expect(config.bankRedisUrl).toBe('redis://:s3cret@banks:6379');
    expect(JSON.stringify(describeConfig(config))).not.toContain('s3cret');
    expect(() => loadConfig({ env: { VIGIL_BANK_REDIS_URL: 'banks:6379' } })).toThrow(/VIGIL_BANK_REDIS_URL \(bankRedisUrl\)/);
  });
});
