/**
 * The TensorFlow.js runtime: picks the fastest backend that loads here, once per thread.
 *
 * Order: `tensorflow` (libtensorflow through @tensorflow/tfjs-node, an optional peer the Docker image
 * installs; its install downloads libtensorflow, so it is absent where that is not possible), then
 * `wasm` (@tensorflow/tfjs-backend-wasm with SIMD: the .wasm binaries ship inside the npm package and
 * are loaded from node_modules by path, never fetched), then `cpu` (plain JavaScript, ~20× slower).
 * The chosen backend, the reason for it and the time it took are returned for the start-up log and the
 * `vigil_model_runtime_info` / `vigil_model_load_seconds` metrics.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';

export type TfModule = typeof TF;

export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
/** Config `classifierBackend`: `auto` tries the three in order; a named one is tried first, then the rest. */
export type BackendPreference = 'auto' | BackendName;

/** Why the runtime ended on its backend: a bounded enum, fit for a metric label. */
export type BackendReason = 'preferred' | 'tfjs_node_missing' | 'tfjs_node_failed' | 'wasm_failed' | 'cpu_failed';

export interface RuntimeInfo {
  backend: BackendName;
  reason: BackendReason;
  /** One line for the log: what was tried and why each earlier choice was skipped. */
  detail: string;
  /** Milliseconds to import TF.js and initialise the backend. */
  loadMs: number;
  /** wasm only: whether the SIMD binary is in use. */
  simd?: boolean;
}

export interface TfRuntime extends RuntimeInfo {
  tf: TfModule;
}

export interface RuntimeOptions {
  prefer?: BackendPreference;
  /** Folder holding the tfjs-backend-wasm .wasm files; default: the installed package's dist/. */
  wasmDir?: string;
}

const require = createRequire(import.meta.url);
// A variable specifier: the optional peer is usually absent, and must not be resolved at build time.
const TFJS_NODE = '@tensorflow/tfjs-node';

let current: Promise<TfRuntime> | undefined;

/** The runtime of this thread; the first call picks the backend, later calls get the same one. */
export function tfRuntime(options: RuntimeOptions = {}): Promise<TfRuntime> {
  current ??= initRuntime(options);
  return current;
}

/** The wasm binaries inside the installed @tensorflow/tfjs-backend-wasm package. */
export function defaultWasmDir(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

function order(prefer: BackendPreference): BackendName[] {
  return prefer === 'auto' ? [...BACKENDS] : [prefer, ...BACKENDS.filter((b) => b !== prefer)];
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not installed';
  return err instanceof Error ? err.message.split('\n')[0]!.slice(0, 160) : String(err);
}

async function initRuntime(options: RuntimeOptions): Promise<TfRuntime> {
  const started = performance.now();
  const tf = await import('@tensorflow/tfjs');
  const skipped: string[] = [];
  let reason: BackendReason = 'preferred';
  const wanted = order(options.prefer ?? 'auto');
  for (const backend of wanted) {
    try {
      if (backend === 'tensorflow') {
        // Resolved first, so "absent" is told apart from "present but broken" whatever loader runs us.
        try {
          require.resolve(TFJS_NODE);
        } catch {
          throw Object.assign(new Error('not installed'), { code: 'MODULE_NOT_FOUND' });
        }
        // tfjs-node registers the `tensorflow` backend on the shared tfjs-core engine as it loads.
        await import(TFJS_NODE);
      } else if (backend === 'wasm') {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        const dir = options.wasmDir ?? defaultWasmDir();
        // Checked up front: emscripten's own failure is an abort with a page of console noise.
        if (!existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm'))) throw new Error(`wasm binaries missing from ${dir}`);
        wasm.setWasmPaths(
          {
            'tfjs-backend-wasm.wasm': join(dir, 'tfjs-backend-wasm.wasm'),
            'tfjs-backend-wasm-simd.wasm': join(dir, 'tfjs-backend-wasm-simd.wasm'),
            'tfjs-backend-wasm-threaded-simd.wasm': join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'),
          },
          false,
        );
      }
      if (!(await tf.setBackend(backend))) throw new Error('backend failed to initialise');
      await tf.ready();
      const info: TfRuntime = {
        tf,
        backend,
        reason: skipped.length === 0 ? 'preferred' : reason,
        detail: skipped.length === 0 ? `${backend}: first choice` : `${backend}: ${skipped.join('; ')}`,
        loadMs: performance.now() - started,
      };
      if (backend === 'wasm') info.simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      return info;
    } catch (err) {
      const why = describe(err);
      skipped.push(`${backend} ${why}`);
      // The reason names the choice skipped last: the one the chosen backend stands in for.
      reason =
        backend === 'tensorflow' ? (why === 'not installed' ? 'tfjs_node_missing' : 'tfjs_node_failed') : backend === 'wasm' ? 'wasm_failed' : 'cpu_failed';
    }
  }
  throw new VigilError('CLASSIFIER_UNAVAILABLE', `no TensorFlow.js backend loaded: ${skipped.join('; ')}`, { retriable: false });
}
