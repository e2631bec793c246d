import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirMediaStore } from '../../src/adapters/media-store.js';

describe('DirMediaStore (media refs)', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-media-'));
  mkdirSync(join(root, 'a'));
  writeFileSync(join(root, 'a', 'img.png'), Buffer.from('benign bytes'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(2048));
  const outside = mkdtempSync(join(tmpdir(), 'vigil-outside-'));
  writeFileSync(join(outside, 'secret.txt'), 'not yours');
  const store = new DirMediaStore(root);

  it('reads refs relative to its folder', async () => {
    expect(Buffer.from(await store.fetch('a/img.png', 1024)).toString()).toBe('benign bytes');
  });

  it.each([['../' + join(outside.split('/').pop() ?? '', 'secret.txt')], [join(outside, 'secret.txt')], ['a/../../etc/passwd'], ['.'], ['a/\0x']])(
    'refuses %s (outside the folder)',
    async (ref) => {
      await expect(store.fetch(ref, 1024)).rejects.toMatchObject({ code: 'MEDIA_REF_UNRESOLVED' });
    },
  );

  it('missing files and oversized files give typed, non-retriable errors', async () => {
    await expect(store.fetch('a/none.png', 1024)).rejects.toMatchObject({ code: 'MEDIA_REF_UNRESOLVED', retriable: false });
    await expect(store.fetch('big.bin', 1024)).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE', retriable: false });
    await expect(store.fetch('a', 1024)).rejects.toMatchObject({ code: 'MEDIA_REF_UNRESOLVED', retriable: false });
  });

  it('does not follow a link that leads outside the folder', async () => {
    symlinkSync(join(outside, 'secret.txt'), join(root, 'link.txt'));
    await expect(store.fetch('link.txt', 1024)).rejects.toMatchObject({ code: 'MEDIA_REF_UNRESOLVED' });
  });
});
