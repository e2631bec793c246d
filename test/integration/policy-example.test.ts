/** config/policy-example.yaml on the sample events, through the same pipeline as the worker and `vigil scan`. */
import { describe, expect, it } from 'vitest';
import { createScanRuntime } from '../../src/app.js';
import { contractLimits } from '../../src/config.js';
import { processPayload, type PipelineResult } from '../../src/core/pipeline.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { testConfig, uniquePrefix } from '../helpers/redis.js';

async function scanAll(policyFile: string): Promise<Map<string, PipelineResult>> {
  const config = testConfig(uniquePrefix('example'), {
    banksDir: 'config/samples/banks',
    patternsFile: 'config/samples/patterns.jsonl',
    policyFile,
    pdqThreads: 0,
  });
  const runtime = await createScanRuntime(config, createLogger('silent'), { watch: false });
  const out = new Map<string, PipelineResult>();
  try {
    for (const { event } of sampleEvents()) {
      try {
        out.set(String(event.eventId), await processPayload(JSON.stringify(event), runtime.scanner, runtime.policy(), contractLimits(config)));
      } catch {
        // invalid sample events are the dead-letter examples
      }
    }
  } finally {
    await runtime.close();
  }
  return out;
}

describe('config/policy-example.yaml', () => {
  it('combines an age question and a platform move into one escalated grooming flag; the shipped policy flags them apart', async () => {
    const example = await scanAll('config/policy-example.yaml');
    const combined = example.get('demo-evt-011');
    expect(combined?.flags.map((f) => `${f.category}:${f.severity}:${f.action}:${f.ruleIds?.join('+')}`)).toEqual([
      'sample_grooming:high:escalate:age-question-and-platform-move',
    ]);
    expect(combined?.flags[0]?.signals.map((s) => s.entryId).sort()).toEqual(['age-question', 'platform-move']);
    // The shadow rule (PDQ within 8) agrees on the exact copy and stays silent on the re-encoded one.
    expect(example.get('demo-evt-002')?.shadow).toEqual([expect.objectContaining({ ruleId: 'known-image-near-only', agree: true })]);
    expect(example.get('demo-evt-003')?.shadow).toEqual([]);
    expect(example.get('demo-evt-003')?.flags[0]?.action).toBe('remove_and_report');

    const shipped = await scanAll('config/policy.yaml');
    expect(shipped.get('demo-evt-011')?.flags.map((f) => `${f.category}:${f.action}`)).toEqual(['age-question:review', 'platform-move:review']);
  }, 60_000);
});
