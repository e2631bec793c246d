/**
 * vitest globalSetup: tests run the compiled CLI and workers (dist/), as users do, instead of paying
 * for tsx in every spawned process. `npm ci` builds dist/ (prepare); this rebuilds it only when a
 * source file is newer than the build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : entry.name.endsWith('.ts') ? statSync(path).mtimeMs : 0);
  }
  return latest;
}

export function builtAt(): number {
  const marker = 'dist/src/cli/bin.js';
  return existsSync(marker) ? statSync(marker).mtimeMs : 0;
}

export default function setup(): void {
  const sources = Math.max(newest('src'), newest('workers'), statSync('tsconfig.json').mtimeMs, statSync('tsconfig.build.json').mtimeMs);
  if (builtAt() >= sources) return;
  process.stderr.write('dist/ is older than src/: building (npm run build) before the tests\n');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
