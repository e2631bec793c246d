import { readFile, stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { createMediaHasher, PDQ_MODES, type PdqMode } from '../../adapters/media-hasher.js';
import { restrictImageLoaders } from '../../adapters/sharp-decoder.js';
import { loadConfig } from '../../config.js';
import { toVigilError, VigilError } from '../../core/errors.js';
import { DIHEDRAL_NAMES } from '../../core/signals.js';
import { printErr, printJson } from '../io.js';

interface HashOptions {
  json?: boolean;
  dihedral?: boolean;
  pdqMode?: PdqMode;
}

export function register(program: Command): Command {
  return program
    .command('hash')
    .description('Hash image files: exact MD5/SHA-1/SHA-256 and PDQ (Meta perceptual hash), with the same safe decoder the scan worker uses.')
    .argument('<file...>', 'image files (JPEG, PNG, GIF first frame, WebP, TIFF, AVIF); SVG/PDF are refused')
    .option('--json', 'one JSON object per line: {file, md5, sha1, sha256, pdq, quality, width, height} or {file, error: {code, message}}')
    .option('--dihedral', 'also print the PDQ hashes of the 8 rotations/flips (pdqDihedral, names as in Meta pdqio.h)')
    .addOption(
      new Option(
        '--pdq-mode <mode>',
        'full: full-resolution pixels (HMA/python-threatexchange); cli512: like Meta pdq-photo-hasher (>512 px squashed to 512x512); fast: shrink while decoding (approximate)',
      ).choices([...PDQ_MODES]),
    )
    .addHelpText(
      'after',
      `
Output: without --json, one readable line per file (file, PDQ hash, quality, size, MD5, SHA-256); with --json,
one JSON line per file. Failed files print an error line (stderr, or a JSON line with --json) and the
exit code is 1. Limits come from the configuration (VIGIL_MAX_PIXELS, VIGIL_MAX_MEDIA_BYTES,
VIGIL_DECODE_TIMEOUT_MS); the default PDQ mode from VIGIL_PDQ_MODE.
Quality below 50 means the PDQ hash is not reliable for matching (Meta's guidance).

Examples:
  npx vigil hash photo.jpg
  npx vigil hash --json --dihedral a.png b.jpg
  npx vigil hash --json --pdq-mode cli512 photo.jpg     # same hash as Meta's pdq-photo-hasher`,
    )
    .action(async (files: string[], opts: HashOptions) => {
      const config = loadConfig({ overrides: { pdqMode: opts.pdqMode } });
      restrictImageLoaders();
      const hasher = createMediaHasher({
        maxPixels: config.maxPixels,
        maxBytes: config.maxMediaBytes,
        timeoutMs: config.decodeTimeoutMs,
        mode: config.pdqMode,
      });
      let failed = false;
      for (const file of files) {
        try {
          const bytes = await readBounded(file, config.maxMediaBytes);
          const r = await hasher.hashDetailed(bytes, 'application/octet-stream', { dihedral: opts.dihedral ?? false });
          const pdq = r.pdq?.hash ?? null;
          const quality = r.pdq?.quality ?? null;
          const dihedral = r.pdq?.dihedral ? Object.fromEntries(DIHEDRAL_NAMES.map((name, i) => [name, r.pdq?.dihedral?.[i]])) : undefined;
          if (opts.json) {
            printJson({
              file,
              md5: r.md5,
              sha1: r.sha1,
              sha256: r.sha256,
              pdq,
              quality,
              width: r.width,
              height: r.height,
              ...(dihedral ? { pdqDihedral: dihedral } : {}),
            });
          } else {
            process.stdout.write(`${file}  pdq=${pdq} quality=${quality} ${r.width}x${r.height} md5=${r.md5} sha256=${r.sha256}\n`);
            if (dihedral) for (const [name, h] of Object.entries(dihedral)) process.stdout.write(`  ${name.padEnd(6)} ${h}\n`);
          }
        } catch (err) {
          failed = true;
          const e = toVigilError(err);
          if (opts.json) printJson({ file, error: { code: e.code, message: e.message } });
          else printErr(`vigil hash: ${file}: ${e.code}: ${e.message}`);
        }
      }
      if (failed) process.exitCode = 1;
    });
}

/** Reads a file only when it is within the byte limit, so an oversized file is never loaded. */
async function readBounded(file: string, maxBytes: number): Promise<Uint8Array> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new VigilError('MEDIA_REF_UNRESOLVED', 'not a regular file');
    size = s.size;
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('MEDIA_REF_UNRESOLVED', `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (size > maxBytes) throw new VigilError('MEDIA_TOO_LARGE', `file is ${size} bytes; the limit is ${maxBytes}`);
  try {
    return await readFile(file);
  } catch (err) {
    throw new VigilError('MEDIA_REF_UNRESOLVED', `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
