import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../src/config.js';
import { maskSecrets } from '../../src/core/secrets.js';

describe('maskSecrets', () => {
  const cases: [string, string][] = [
    ['redis://:pw@10.0.0.5:6379', 'redis://***@10.0.0.5:6379'],
    ['redis://vigil:pw@10.0.0.5:6379/0', 'redis://***@10.0.0.5:6379/0'],
    ['rediss://vigil:p@ss@word@cache.internal:6380', 'rediss://***@cache.internal:6380'],
    ['redis://vigil:pa/ss@w/rd@cache:6379', 'redis://***@cache:6379'],
    ['redis://cache:6379?password=pw1234&db=2', 'redis://cache:6379?password=***&db=2'],
    ['connect to redis://u:pw@h:1 failed; retry redis://u:pw@h:2', 'connect to redis://***@h:1 failed; retry redis://***@h:2'],
    ['sasl_password=abc123 mechanism=plain', 'sasl_password=*** mechanism=plain'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['no secrets in here', 'no secrets in here'],
  ];
  for (const [input, output] of cases) it(`${input} → ${output}`, () => expect(maskSecrets(input, [])).toBe(output));

  it('masks known secret values wherever they appear (a SASL password quoted by a library)', () => {
    expect(maskSecrets('SASL authentication failed for vigil with s3cr3t-value', ['s3cr3t-value'])).toBe('SASL authentication failed for vigil with ***');
  });

  it('configuration: the URL and the SASL password are masked, also in validation errors', () => {
    const secret = 'pa@ss/word-XYZ';
    const config = loadConfig({ env: { REDIS_URL: `redis://vigil:${secret}@cache:6379`, KAFKA_SASL_PASSWORD: 'sasl-secret-1' } });
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain('sasl-secret-1');
    expect(shown).toContain('redis://***@cache:6379');
    // A URL that fails validation is shown masked too.
    const err = (() => {
      try {
        loadConfig({ env: { REDIS_URL: `http://vigil:${secret}@cache:6379` } });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toContain('REDIS_URL');
    expect(err?.message).not.toContain(secret);
    // Registered secrets are masked by default wherever they appear.
    expect(maskSecrets(`failed: ${secret}`)).toBe('failed: ***');
  });
});
