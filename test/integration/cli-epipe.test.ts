/** A reader that stops early (`vigil … | head`) ends the CLI quietly, never with an EPIPE stack trace. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));

function readFirstChunkThenClose(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Close our end after the first bytes, as `head -c 1` would: the rest of the output hits a closed pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('CLI output to a closed pipe', () => {
  it.each([[['--help']], [['schema', 'message']], [['config', '--reference']]])('vigil %j exits 0 without a stack trace', async (args) => {
    const r = await readFirstChunkThenClose(args);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|at .*\(node:/);
    expect(r.code).toBe(0);
  });
});
