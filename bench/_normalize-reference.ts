/**
 * The frozen normaliser (test/text/normalize-reference.ts, the differential test's oracle: the code
 * before the speed work) compiled the way dist/ is, by TypeScript's own emit (no tsx helpers, which
 * would make it several times slower and the comparison unfair), so a bench can time it beside the
 * current one in the same run. Also the text featuriser on top of it: src/classify/text-features.ts
 * with its normaliser import pointed at the reference.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import type * as Reference from '../test/text/normalize-reference.js';
import type * as Features from '../src/classify/text-features.js';

const root = new URL('..', import.meta.url);

/** Compiles `source` (a path under the repository) to ES2022 JavaScript in `dir`, its imports rewritten. */
function emit(dir: string, source: string, name: string, imports: Record<string, string>): string {
  let js = ts.transpileModule(readFileSync(new URL(source, root), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  for (const [from, to] of Object.entries(imports)) {
    const quoted = `'${from}'`;
    if (!js.includes(quoted)) throw new Error(`${source} no longer imports ${from}`);
    js = js.split(quoted).join(`'${to}'`);
  }
  const file = join(dir, name);
  writeFileSync(file, js);
  return pathToFileURL(file).href;
}

export async function referenceText(): Promise<{ normalizeText: typeof Reference.normalizeText; featurize: typeof Features.featurize }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-ref-'));
  const dist = (m: string): string => new URL(`dist/src/${m}`, root).href;
  const norm = emit(dir, 'test/text/normalize-reference.ts', 'normalize-reference.js', {
    '../../src/core/text/confusables.js': dist('core/text/confusables.js'),
  });
  const feat = emit(dir, 'src/classify/text-features.ts', 'text-features.js', { '../core/text/index.js': norm, './manifest.js': dist('classify/manifest.js') });
  const { normalizeText } = (await import(norm)) as typeof Reference;
  const { featurize } = (await import(feat)) as typeof Features;
  return { normalizeText, featurize };
}
