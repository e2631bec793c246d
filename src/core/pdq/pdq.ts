/**
 * PDQ perceptual hash (Meta, 2017), written from the published algorithm and bit-exact with the C++
 * reference (facebook/ThreatExchange `pdq/cpp`, hashing/pdqhashing.cpp + downscaling/downscaling.cpp).
 *
 * Bit-exactness is the point: bank hashes come from Meta's tools, and an off-by-one-ulp luma or box
 * filter flips bits near the median. So every step repeats the reference's float32 arithmetic in the
 * same order (Math.fround after each float operation, no fused multiply-add, same loop orders), and
 * its integer conventions (window sizes, decimation indices, quality truncation).
 *
 * Unlike the reference, which materialises two full-size float images, the four box-filter passes
 * (rows, columns, rows, columns) run as a streaming pipeline over image rows with ring buffers of one
 * filter window: memory is O(window × width) instead of O(height × width), and the pixels are read
 * once, in order. Each column still sees exactly the same sequence of float additions and
 * subtractions as in the reference, so results are identical.
 *
 * Two engines give identical results: this TypeScript, and the same arithmetic in C compiled to
 * WebAssembly (native/pdq/pdq.c, embedded by the build) which is several times faster — float32 is
 * native there and independent rows/columns run four at a time in SIMD lanes. The WebAssembly one is
 * used when it was built (clang present at build time); the TypeScript one is the fallback, and the
 * tests hold the two equal on every vector and on random images.
 *
 * Pure: no I/O. Input is a DecodedImage (8-bit, 1 or 3 channels, alpha already dropped).
 */
import type { DecodedImage, PdqDigest } from '../ports.js';
import { words16ToHex } from './hex.js';
import { PDQ_WASM_BASE64 } from './pdq-wasm.generated.js';

const f32 = Math.fround;

/** PDQ of images smaller than this in either dimension is all-zero with quality 0 (as the reference). */
export const PDQ_MIN_HASHABLE_DIM = 5;
/** The Meta CLI squashes anything larger than this (in either dimension) to exactly this square. */
export const PDQ_CLI_DOWNSAMPLE_DIM = 512;

/** float32 luma coefficients (the reference stores 0.299/0.587/0.114 as float). */
const LUMA_R = f32(0.299);
const LUMA_G = f32(0.587);
const LUMA_B = f32(0.114);
/** coefficient × sample, one float multiply each, precomputed for all 256 sample values. */
const LUMA_R_TABLE = new Float32Array(256);
const LUMA_G_TABLE = new Float32Array(256);
const LUMA_B_TABLE = new Float32Array(256);
for (let v = 0; v < 256; v++) {
  LUMA_R_TABLE[v] = LUMA_R * v;
  LUMA_G_TABLE[v] = LUMA_G * v;
  LUMA_B_TABLE[v] = LUMA_B * v;
}

/**
 * 16×64 DCT-II basis rows 1..16 (row 0, the DC term, is not part of the hash). Computed like the
 * reference: float scale × double cosine, rounded to float.
 */
const DCT_MATRIX: Float32Array = (() => {
  const m = new Float32Array(16 * 64);
  const scale = f32(Math.sqrt(2 / 64));
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) m[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
  }
  return m;
})();

/** The reference's computeJaroszFilterWindowSize: half of a 1/64th block per pass, rounded up. */
export function jaroszWindowSize(oldDimension: number, newDimension: number): number {
  return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
}

export type PdqEngine = 'ts' | 'wasm';

export interface PdqOptions {
  /** Also compute the 7 other dihedral variants (from the same DCT, as the reference does). */
  dihedral?: boolean;
  /**
   * Which implementation computes the hash (same result either way): 'wasm' when available, else
   * 'ts' (the default, 'auto'). Asking for 'wasm' where it was not built throws.
   */
  engine?: 'auto' | PdqEngine;
}

/** The slice of the WebAssembly JS API used here (this project's TypeScript lib has no DOM types). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

interface WasmPdq {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly prepare: (w: number, h: number, c: number) => number;
  readonly run: (w: number, h: number, c: number, dihedral: number) => number;
  readonly words: number;
  readonly quality: () => number;
}

let wasmPdq: WasmPdq | null | undefined;

/** Instantiates the embedded module once per thread (synchronously: it is about 30 KB). */
function wasmEngine(): WasmPdq | null {
  if (wasmPdq !== undefined) return wasmPdq;
  if (PDQ_WASM_BASE64 === null) return (wasmPdq = null);
  const bytes = Uint8Array.from(atob(PDQ_WASM_BASE64), (c) => c.charCodeAt(0));
  const wa = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  const e = new wa.Instance(new wa.Module(bytes), {}).exports;
  const fn = (name: string): ((...args: number[]) => number) => e[name] as (...args: number[]) => number;
  const memory = e.memory as WasmPdq['memory'];
  // The DCT basis comes from here (Math.cos in double, as the reference), not from a C libm.
  new Float32Array(memory.buffer, fn('pdq_dct_matrix')(), DCT_MATRIX.length).set(DCT_MATRIX);
  fn('pdq_init')();
  wasmPdq = { memory, prepare: fn('pdq_prepare'), run: fn('pdq_run'), words: fn('pdq_words')(), quality: fn('pdq_quality') };
  return wasmPdq;
}

/** The engines this build has, TypeScript first. */
export function pdqEngines(): PdqEngine[] {
  return wasmEngine() ? ['ts', 'wasm'] : ['ts'];
}

/** PDQ via WebAssembly, or undefined if its memory cannot hold the image (then TypeScript does it). */
function pdqWasm(engine: WasmPdq, image: DecodedImage, dihedral: boolean): PdqDigest | undefined {
  const { width, height, channels, data } = image;
  const n = width * height * channels;
  const at = engine.prepare(width, height, channels);
  if (at === 0) return undefined;
  new Uint8Array(engine.memory.buffer, at, n).set(data.length === n ? data : data.subarray(0, n));
  engine.run(width, height, channels, dihedral ? 1 : 0);
  const quality = engine.quality();
  const words = new Uint16Array(engine.memory.buffer, engine.words, dihedral ? 128 : 16);
  if (!dihedral) return { hash: words16ToHex(words), quality };
  const variants = Array.from({ length: 8 }, (_, v) => words16ToHex(words.subarray(v * 16, v * 16 + 16)));
  return { hash: variants[0] as string, quality, dihedral: variants };
}

/**
 * PDQ hash of decoded pixels, as the reference core algorithm computes it on exactly these pixels.
 * For the Meta CLI convention squash first with {@link squashForCli512}.
 *
 * With `dihedral`, `hash` equals `dihedral[0]` and comes from the reference's dihedral code path,
 * which (unlike the plain path) also box-filters an image that is already 64×64; on such images the
 * two paths can differ in rare bits, exactly as the reference's `--pdqdih` output does.
 */
export function pdqHash(image: DecodedImage, options: PdqOptions = {}): PdqDigest {
  const { width, height } = image;
  validateImage(image);
  if (width < PDQ_MIN_HASHABLE_DIM || height < PDQ_MIN_HASHABLE_DIM) {
    const zero = '0'.repeat(64);
    return options.dihedral ? { hash: zero, quality: 0, dihedral: Array.from({ length: 8 }, () => zero) } : { hash: zero, quality: 0 };
  }
  const engine = options.engine ?? 'auto';
  if (engine !== 'ts') {
    const wasm = wasmEngine();
    if (!wasm && engine === 'wasm') throw new Error('pdq: the WebAssembly engine was not built (see native/build-wasm.js)');
    const digest = wasm ? pdqWasm(wasm, image, options.dihedral ?? false) : undefined;
    if (digest) return digest;
  }
  const block = new Float32Array(64 * 64);
  if (width === 64 && height === 64 && !options.dihedral) lumaInto(image, block);
  else downsampleTo64(image, block);
  const quality = qualityMetric(block);
  const dct = dct64To16(block);
  if (!options.dihedral) return { hash: words16ToHex(bitsAboveMedian(dct)), quality };
  const dihedral = dihedralDcts(dct).map((m) => words16ToHex(bitsAboveMedian(m)));
  return { hash: dihedral[0] as string, quality, dihedral };
}

function validateImage(image: DecodedImage): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`pdq: bad image size ${width}x${height}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`pdq: expected 1 or 3 channels, got ${String(channels)}`);
  if (data.length < width * height * channels) throw new RangeError(`pdq: pixel buffer too short for ${width}x${height}x${channels}`);
}

/**
 * The Meta command-line tool's pre-step: if either side exceeds 512, nearest-neighbour resize to
 * exactly 512×512 (aspect ratio not kept); output row y is source row floor(y·H/512), column x is
 * source column floor(x·W/512). Smaller images are returned unchanged.
 */
export function squashForCli512(image: DecodedImage): DecodedImage {
  const { width: w, height: h, channels: c, data } = image;
  const n = PDQ_CLI_DOWNSAMPLE_DIM;
  if (w <= n && h <= n) return image;
  const out = new Uint8Array(n * n * c);
  const srcCol = new Int32Array(n);
  for (let x = 0; x < n; x++) srcCol[x] = Math.floor((x * w) / n) * c;
  for (let y = 0; y < n; y++) {
    const rowBase = Math.floor((y * h) / n) * w * c;
    let o = y * n * c;
    for (let x = 0; x < n; x++) {
      const s = rowBase + (srcCol[x] as number);
      for (let k = 0; k < c; k++) out[o++] = data[s + k] as number;
    }
  }
  return { width: n, height: n, channels: c, data: out };
}

/** Luma of one row into `out` (float32, the reference's expression order: (R + G) + B). */
function lumaRow(image: DecodedImage, row: number, out: Float32Array): void {
  const { width, data } = image;
  if (image.channels === 1) {
    const base = row * width;
    for (let x = 0; x < width; x++) out[x] = data[base + x] as number;
    return;
  }
  let p = row * width * 3;
  for (let x = 0; x < width; x++, p += 3) {
    out[x] =
      f32((LUMA_R_TABLE[data[p] as number] as number) + (LUMA_G_TABLE[data[p + 1] as number] as number)) + (LUMA_B_TABLE[data[p + 2] as number] as number);
  }
}

function lumaInto(image: DecodedImage, out: Float32Array): void {
  const row = new Float32Array(image.width);
  for (let y = 0; y < image.height; y++) {
    lumaRow(image, y, row);
    out.set(row, y * image.width);
  }
}

/**
 * The reference's box1DFloat along one contiguous vector: a running float sum with a window that
 * grows at the start and shrinks at the end, each output = sum / current window length.
 */
function boxRow(input: Float32Array, output: Float32Array, length: number, window: number): void {
  const half = Math.floor((window + 2) / 2);
  const p1 = half - 1;
  const p2 = window - half + 1;
  const p3 = length - window;
  const p4 = half - 1;
  let li = 0;
  let ri = 0;
  let oi = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < p1; i++) {
    sum = f32(sum + (input[ri++] as number));
    count++;
  }
  for (let i = 0; i < p2; i++) {
    sum = f32(sum + (input[ri++] as number));
    count++;
    output[oi++] = sum / count;
  }
  for (let i = 0; i < p3; i++) {
    sum = f32(sum + (input[ri++] as number));
    sum = f32(sum - (input[li++] as number));
    output[oi++] = sum / count;
  }
  for (let i = 0; i < p4; i++) {
    sum = f32(sum - (input[li++] as number));
    count--;
    output[oi++] = sum / count;
  }
}

/**
 * boxRow on four rows at once. Each row's float sequence is exactly boxRow's; interleaving four
 * independent running sums only lets the CPU overlap them (one sum is a chain of dependent float
 * roundings, so a single row runs at the latency of that chain). About 2× faster on large images.
 */
function boxRows4(
  i0: Float32Array,
  i1: Float32Array,
  i2: Float32Array,
  i3: Float32Array,
  o0: Float32Array,
  o1: Float32Array,
  o2: Float32Array,
  o3: Float32Array,
  length: number,
  window: number,
): void {
  const half = Math.floor((window + 2) / 2);
  const p1 = half - 1;
  const p2 = window - half + 1;
  const p3 = length - window;
  const p4 = half - 1;
  let li = 0;
  let ri = 0;
  let oi = 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let count = 0;
  for (let i = 0; i < p1; i++, ri++) {
    s0 = f32(s0 + (i0[ri] as number));
    s1 = f32(s1 + (i1[ri] as number));
    s2 = f32(s2 + (i2[ri] as number));
    s3 = f32(s3 + (i3[ri] as number));
    count++;
  }
  for (let i = 0; i < p2; i++, ri++, oi++) {
    s0 = f32(s0 + (i0[ri] as number));
    s1 = f32(s1 + (i1[ri] as number));
    s2 = f32(s2 + (i2[ri] as number));
    s3 = f32(s3 + (i3[ri] as number));
    count++;
    o0[oi] = s0 / count;
    o1[oi] = s1 / count;
    o2[oi] = s2 / count;
    o3[oi] = s3 / count;
  }
  for (let i = 0; i < p3; i++, ri++, li++, oi++) {
    s0 = f32(f32(s0 + (i0[ri] as number)) - (i0[li] as number));
    s1 = f32(f32(s1 + (i1[ri] as number)) - (i1[li] as number));
    s2 = f32(f32(s2 + (i2[ri] as number)) - (i2[li] as number));
    s3 = f32(f32(s3 + (i3[ri] as number)) - (i3[li] as number));
    o0[oi] = s0 / count;
    o1[oi] = s1 / count;
    o2[oi] = s2 / count;
    o3[oi] = s3 / count;
  }
  for (let i = 0; i < p4; i++, li++, oi++) {
    s0 = f32(s0 - (i0[li] as number));
    s1 = f32(s1 - (i1[li] as number));
    s2 = f32(s2 - (i2[li] as number));
    s3 = f32(s3 - (i3[li] as number));
    count--;
    o0[oi] = s0 / count;
    o1[oi] = s1 / count;
    o2[oi] = s2 / count;
    o3[oi] = s3 / count;
  }
}

/** Runs boxRow over `n` (≤ 4) rows, four at a time when there are four. */
function boxRowsUpTo4(inputs: readonly Float32Array[], outputs: readonly Float32Array[], n: number, length: number, window: number): void {
  if (n === 4)
    boxRows4(
      inputs[0] as Float32Array,
      inputs[1] as Float32Array,
      inputs[2] as Float32Array,
      inputs[3] as Float32Array,
      outputs[0] as Float32Array,
      outputs[1] as Float32Array,
      outputs[2] as Float32Array,
      outputs[3] as Float32Array,
      length,
      window,
    );
  else for (let k = 0; k < n; k++) boxRow(inputs[k] as Float32Array, outputs[k] as Float32Array, length, window);
}

/**
 * box1DFloat down the columns, fed one row at a time: every column runs the same add/subtract/write
 * schedule as the reference's strided loop, so each column's float sequence is unchanged. Keeps only
 * the last window+1 input rows. `emit(o, row)` receives output row o (the buffer is reused).
 */
class ColumnBox {
  private readonly half: number;
  private readonly ring: Float32Array[];
  private readonly sums: Float32Array;
  private readonly out: Float32Array;
  private pushed = 0;
  private li = 0;
  private oi = 0;
  private count = 0;

  constructor(
    private readonly width: number,
    private readonly length: number,
    private readonly window: number,
    private readonly emit: (o: number, row: Float32Array) => void,
  ) {
    this.half = Math.floor((window + 2) / 2);
    // window+1 rows are needed; 3 more let a caller fill up to 4 upcoming rows before pushing them.
    this.ring = Array.from({ length: window + 4 }, () => new Float32Array(width));
    this.sums = new Float32Array(width);
    this.out = new Float32Array(width);
  }

  /** Slot to write input row number `pushed + ahead` (ahead 0..3) into before pushing it. */
  nextSlot(ahead = 0): Float32Array {
    return this.ring[(this.pushed + ahead) % this.ring.length] as Float32Array;
  }

  push(): void {
    const r = this.pushed++;
    const row = this.ring[r % this.ring.length] as Float32Array;
    const { sums, out, width } = this;
    if (r < this.half - 1) {
      // Phase 1: accumulate, no output yet. Float32Array stores round to float32, exactly the
      // reference's float `sum`.
      for (let j = 0; j < width; j++) sums[j] = (sums[j] as number) + (row[j] as number);
      this.count++;
      return;
    }
    if (r < this.window) {
      // Phase 2: growing window.
      const count = ++this.count;
      for (let j = 0; j < width; j++) {
        const s = f32((sums[j] as number) + (row[j] as number));
        sums[j] = s;
        out[j] = s / count;
      }
    } else {
      // Phase 3: full window, add then subtract (the reference's order), fused into one sweep.
      const old = this.ring[this.li++ % this.ring.length] as Float32Array;
      const count = this.count;
      for (let j = 0; j < width; j++) {
        const s = f32(f32((sums[j] as number) + (row[j] as number)) - (old[j] as number));
        sums[j] = s;
        out[j] = s / count;
      }
    }
    this.emit(this.oi++, out);
  }

  /** Phase 4 of box1DFloat: shrink the window over the last rows. */
  finish(): void {
    if (this.pushed !== this.length) throw new Error('pdq: column box fed the wrong number of rows');
    const { sums, out, width } = this;
    for (let i = 0; i < this.half - 1; i++) {
      const old = this.ring[this.li++ % this.ring.length] as Float32Array;
      const count = --this.count;
      for (let j = 0; j < width; j++) {
        const s = f32((sums[j] as number) - (old[j] as number));
        sums[j] = s;
        out[j] = s / count;
      }
      this.emit(this.oi++, out);
    }
  }
}

/**
 * The reference's two Jarosz passes (PDQ_NUM_JAROSZ_XY_PASSES = 2: box along rows, then along columns,
 * twice, which approximates a tent filter) and decimation to 64×64 at pixel
 * centres, streamed row by row. The last column pass runs only on the 64 columns decimation keeps:
 * columns are independent, so the others would be computed and thrown away.
 */
function downsampleTo64(image: DecodedImage, out: Float32Array): void {
  const { width, height } = image;
  const winRows = jaroszWindowSize(width, 64); // window along each row
  const winCols = jaroszWindowSize(height, 64); // window along each column

  const keptCols = new Int32Array(64);
  for (let j = 0; j < 64; j++) keptCols[j] = Math.floor(((j + 0.5) * width) / 64);
  // Output rows per input row (several when the image has fewer than 64 rows).
  const rowTargets: number[][] = Array.from({ length: height }, () => []);
  for (let i = 0; i < 64; i++) (rowTargets[Math.floor(((i + 0.5) * height) / 64)] as number[]).push(i);

  const lumaRows = Array.from({ length: 4 }, () => new Float32Array(width));
  const staged = Array.from({ length: 4 }, () => new Float32Array(width));
  const boxed = Array.from({ length: 4 }, () => new Float32Array(width));
  let nStaged = 0;

  const lastCols = new ColumnBox(64, height, winCols, (o, row) => {
    for (const i of rowTargets[o] as number[]) out.set(row, i * 64);
  });
  // Second row pass: rows arrive one by one from the first column pass and are boxed four at a time.
  const flushStaged = (): void => {
    boxRowsUpTo4(staged, boxed, nStaged, width, winRows);
    for (let k = 0; k < nStaged; k++) {
      const src = boxed[k] as Float32Array;
      const slot = lastCols.nextSlot();
      for (let j = 0; j < 64; j++) slot[j] = src[keptCols[j] as number] as number;
      lastCols.push();
    }
    nStaged = 0;
  };
  const firstCols = new ColumnBox(width, height, winCols, (_o, row) => {
    (staged[nStaged++] as Float32Array).set(row);
    if (nStaged === 4) flushStaged();
  });
  // First row pass straight from the pixels, four rows at a time, into the column filter's ring.
  for (let y = 0; y < height; y += 4) {
    const n = Math.min(4, height - y);
    const slots = [0, 1, 2, 3].map((k) => firstCols.nextSlot(k));
    for (let k = 0; k < n; k++) lumaRow(image, y + k, lumaRows[k] as Float32Array);
    boxRowsUpTo4(lumaRows, slots, n, width, winRows);
    for (let k = 0; k < n; k++) firstCols.push();
  }
  firstCols.finish();
  flushStaged();
  lastCols.finish();
}

/** The reference's gradient-sum heuristic on the 64×64 downsample, 0..100. */
function qualityMetric(b: Float32Array): number {
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const d = Math.trunc(f32(f32(f32((b[i * 64 + j] as number) - (b[(i + 1) * 64 + j] as number)) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const d = Math.trunc(f32(f32(f32((b[i * 64 + j] as number) - (b[i * 64 + j + 1] as number)) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  return Math.min(100, Math.floor(gradientSum / 90));
}

/** B = D·A·Dᵀ for DCT rows 1..16, float32 products and sums in the reference's order (k ascending). */
function dct64To16(a: Float32Array): Float32Array {
  const d = DCT_MATRIX;
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    const di = i * 64;
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f32(sum + f32((d[di + k] as number) * (a[k * 64 + j] as number)));
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float32Array(16 * 16);
  for (let i = 0; i < 16; i++) {
    const ti = i * 64;
    for (let j = 0; j < 16; j++) {
      const dj = j * 64;
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f32(sum + f32((t[ti + k] as number) * (d[dj + k] as number)));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

/**
 * The 8 dihedral variants' DCTs, in DIHEDRAL_NAMES order, by sign flips and transposition of the
 * original's coefficients (mirroring an axis negates the even-indexed rows 1..16 of that axis, i.e.
 * the odd frequencies; a quarter turn transposes). Same sign patterns as the reference's dct16OriginalTo* functions.
 */
function dihedralDcts(a: Float32Array): Float32Array[] {
  const out = Array.from({ length: 8 }, () => new Float32Array(256));
  const [orig, rot90, rot180, rot270, flipx, flipy, flipp, flipm] = out as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const v = a[i * 16 + j] as number;
      const ij = i * 16 + j;
      const ji = j * 16 + i;
      orig[ij] = v;
      rot90[ji] = j & 1 ? v : -v;
      rot180[ij] = (i + j) & 1 ? -v : v;
      rot270[ji] = i & 1 ? v : -v;
      flipx[ij] = i & 1 ? v : -v;
      flipy[ij] = j & 1 ? v : -v;
      flipp[ji] = v;
      flipm[ji] = (i + j) & 1 ? -v : v;
    }
  }
  return out;
}

/**
 * Torben Mogensen's selection-free median, as in the reference (torben.cpp), in float32: the exact
 * value matters because bits are set for coefficients strictly greater than it.
 */
export function torbenMedian(m: Float32Array): number {
  const n = m.length;
  let min = m[0] as number;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = m[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const halfN = Math.floor((n + 1) / 2);
  for (;;) {
    const guess = f32(f32(min + max) / 2);
    let less = 0;
    let greater = 0;
    let equal = 0;
    let maxLtGuess = min;
    let minGtGuess = max;
    for (let i = 0; i < n; i++) {
      const v = m[i] as number;
      if (v < guess) {
        less++;
        if (v > maxLtGuess) maxLtGuess = v;
      } else if (v > guess) {
        greater++;
        if (v < minGtGuess) minGtGuess = v;
      } else equal++;
    }
    if (less <= halfN && greater <= halfN) {
      if (less >= halfN) return maxLtGuess;
      if (less + equal >= halfN) return guess;
      return minGtGuess;
    }
    if (less > greater) max = maxLtGuess;
    else min = minGtGuess;
  }
}

/**
 * Bit i*16+j set when coefficient (i, j) is above the median. Row i is one 16-bit word; in text
 * order (hex.ts) row 15 comes first, as the reference prints Hash256::w[15] first.
 */
function bitsAboveMedian(b: Float32Array): Uint16Array {
  const median = torbenMedian(b);
  const words = new Uint16Array(16);
  for (let i = 0; i < 16; i++) {
    let w = 0;
    for (let j = 0; j < 16; j++) if ((b[i * 16 + j] as number) > median) w |= 1 << j;
    words[15 - i] = w;
  }
  return words;
}
