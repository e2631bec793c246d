/** Every YAML example in docs/policy.md compiles, so the reference cannot drift from the schema. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/core/policy.js';

const doc = readFileSync('docs/policy.md', 'utf8');
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').filter((b) => !b.includes('…'));
const anyRule = { id: 'any', when: { signal: {} }, category: 'k', severity: 'low', action: 'log' };

function asPolicy(value: unknown): unknown {
  if (Array.isArray(value)) return { version: 2, rules: value };
  const o = value as Record<string, unknown>;
  if ('version' in o) return o;
  if ('rules' in o) return { version: 2, ...o };
  if ('id' in o) return { version: 2, rules: [o] };
  return { version: 2, ...o, rules: [anyRule] };
}

describe('docs/policy.md examples', () => {
  it('has examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
  });
  it.each(blocks.map((b, i) => [i, b] as const))('example %i compiles', (_i, block) => {
    expect(() => compilePolicy(asPolicy(parse(block)), 'docs example')).not.toThrow();
  });
  it('the examples use every condition kind and every signal, context and account key', () => {
    const text = blocks.join('\n');
    for (const key of [
      'all:',
      'any:',
      'not:',
      'signal:',
      'context:',
      'account:',
      'type:',
      'source:',
      'entry:',
      'category:',
      'minSeverity:',
      'maxDistance:',
      'label:',
      'minScore:',
      'termMode:',
      'reported:',
      'locale:',
      'in:',
      'lt:',
      'status: shadow',
      'rollout:',
      'dailyCap:',
      'sampleRate:',
      'run:',
    ])
      expect(text, key).toContain(key);
  });
});
