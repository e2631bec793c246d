/**
 * The two PDQ engines — TypeScript and the WebAssembly build of native/pdq/pdq.c — give identical
 * digests: on every reference vector (both conventions, all dihedral variants, against the C++
 * reference's hashes) and on generated images of awkward sizes (tiny, thin, exactly 64×64, odd, grey).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { SharpImageDecoder } from '../../src/adapters/sharp-decoder.js';
import { pdqEngines, pdqHash, squashForCli512 } from '../../src/core/pdq/pdq.js';
import { PDQ_WASM_NOTE } from '../../src/core/pdq/pdq-wasm.generated.js';
import type { DecodedImage } from '../../src/core/ports.js';
import { seededUint32 } from '../helpers/seeded-random.js';
import { readTsv, readVector } from './helpers.js';

function clangAvailable(): boolean {
  try {
    execFileSync(process.env.VIGIL_CLANG ?? 'clang', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('PDQ engines', () => {
  it('has the WebAssembly engine wherever clang was there to build it', () => {
    // Where clang is missing the build falls back (and says so); here it must have built.
    if (clangAvailable())
      expect({ engines: pdqEngines(), note: PDQ_WASM_NOTE }).toMatchObject({ engines: ['ts', 'wasm'], note: expect.stringMatching(/^built by /) });
    else expect(pdqEngines()).toEqual(['ts']);
  });

  const wasm = pdqEngines().includes('wasm');
  const decoder = new SharpImageDecoder();
  const full = readTsv('expected-noresize.tsv');
  const cli = new Map(readTsv('expected.tsv').map(([f, h, q]) => [f as string, { hash: h as string, quality: Number(q) }]));
  const dihFull = new Map(readTsv('dihedral-noresize.tsv').map(([f, ...rest]) => [f as string, rest.slice(0, 8)]));
  const dihCli = new Map(readTsv('dihedral.tsv').map(([f, ...rest]) => [f as string, rest.slice(0, 8)]));

  it('has all 40 vectors', () => {
    expect(full).toHaveLength(40);
  });

  // One test per vector (each with its own time budget on a loaded machine).
  it.runIf(wasm).each(full.map(([file, hash, quality]) => ({ file: file as string, hash: hash as string, quality: Number(quality) })))(
    'agree with each other and with the C++ reference: $file',
    async ({ file, hash, quality }) => {
      const image = await decoder.decode(readVector(file), 'application/octet-stream');
      const squashed = squashForCli512(image);
      for (const engine of ['ts', 'wasm'] as const) {
        expect({ engine, ...pdqHash(image, { engine }) }).toEqual({ engine, hash, quality });
        expect({ engine, ...pdqHash(squashed, { engine }) }).toEqual({ engine, ...cli.get(file) });
        expect({ engine, d: pdqHash(image, { engine, dihedral: true }).dihedral }).toEqual({ engine, d: dihFull.get(file) });
        expect({ engine, d: pdqHash(squashed, { engine, dihedral: true }).dihedral }).toEqual({ engine, d: dihCli.get(file) });
      }
    },
  );

  /** Noise over a smooth gradient, so both fine detail and large-scale structure reach the DCT. */
  function generated(width: number, height: number, channels: 1 | 3, seed: number): DecodedImage {
    const next = seededUint32(seed);
    const data = new Uint8Array(width * height * channels);
    for (let y = 0, p = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) data[p++] = Math.min(255, Math.floor((x * 97 + y * 31 * (c + 1)) % 200) + (next() % 56));
      }
    }
    return { width, height, channels, data };
  }

  const sizes: [number, number, 1 | 3][] = [
    [5, 5, 3],
    [5, 9, 1],
    [6, 300, 3],
    [300, 6, 3],
    [63, 65, 3],
    [64, 64, 3],
    [64, 64, 1],
    [65, 64, 1],
    [127, 129, 3],
    [128, 128, 3],
    [1000, 9, 1],
    [9, 1000, 3],
    [513, 777, 1],
    [777, 513, 3],
    [1201, 67, 3],
  ];
  it.runIf(wasm).each(sizes)('agree on a generated %i×%i×%i image, plain and dihedral', (width, height, channels) => {
    const image = generated(width, height, channels, width * 7919 + height);
    expect(pdqHash(image, { engine: 'wasm' })).toEqual(pdqHash(image, { engine: 'ts' }));
    expect(pdqHash(image, { engine: 'wasm', dihedral: true })).toEqual(pdqHash(image, { engine: 'ts', dihedral: true }));
  });

  it.runIf(wasm)('reads only width×height×channels bytes of a longer buffer, and images one after another do not leak into each other', () => {
    const big = generated(900, 700, 3, 1);
    const small = generated(40, 30, 3, 2);
    const padded = { ...small, data: new Uint8Array([...small.data, ...new Uint8Array(999).fill(255)]) };
    const before = pdqHash(small, { engine: 'wasm' });
    pdqHash(big, { engine: 'wasm', dihedral: true });
    expect(pdqHash(padded, { engine: 'wasm' })).toEqual(before);
    expect(before).toEqual(pdqHash(small, { engine: 'ts' }));
  });

  it('refuses an engine that is not there, instead of silently using another', () => {
    if (wasm) return expect(pdqEngines()).toContain('wasm');
    expect(() => pdqHash(generated(10, 10, 3, 3), { engine: 'wasm' })).toThrow(/not built/);
  });
});
