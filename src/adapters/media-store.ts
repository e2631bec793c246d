/** Resolves media `ref`s to files under one folder. Refs are relative paths; nothing outside the folder is read. */
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { VigilError } from '../core/errors.js';
import type { MediaStore } from '../core/ports.js';

export class DirMediaStore implements MediaStore {
  readonly #root: string;
  #realRoot: string | undefined;

  #inside(path: string, root = this.#root): boolean {
    const rel = relative(root, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  }

  constructor(root: string) {
    this.#root = resolve(root);
  }

  async fetch(ref: string, maxBytes: number): Promise<Uint8Array> {
    const path = resolve(this.#root, ref);
    if (!this.#inside(path) || ref.includes('\0')) throw new VigilError('MEDIA_REF_UNRESOLVED', 'media ref points outside the media folder');
    let handle;
    try {
      // Links are resolved before the check, so a link inside the folder cannot lead out of it.
      const real = await realpath(path);
      if (!this.#inside(real, (this.#realRoot ??= await realpath(this.#root))))
        throw new VigilError('MEDIA_REF_UNRESOLVED', 'media ref points outside the media folder');
      handle = await open(real, 'r');
    } catch (err) {
      if (err instanceof VigilError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      // A missing file will not appear by retrying; a busy filesystem might recover.
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ELOOP')
        throw new VigilError('MEDIA_REF_UNRESOLVED', `media ref not found (${code})`);
      throw new VigilError('MEDIA_STORE_UNAVAILABLE', `media store read failed (${code ?? 'error'})`, { cause: err });
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new VigilError('MEDIA_REF_UNRESOLVED', 'media ref is not a file');
      const size = stat.size;
      if (size > maxBytes) throw new VigilError('MEDIA_TOO_LARGE', `media is ${size} bytes, over the ${maxBytes}-byte limit`);
      const buf = Buffer.alloc(size);
      await handle.read(buf, 0, size, 0);
      return buf;
    } finally {
      await handle.close();
    }
  }
}
