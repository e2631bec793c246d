/**
 * PDQ hash representations and Hamming distance.
 *
 * Text form: 64 lowercase hex digits, the 256-bit hash as one big-endian number whose bit k
 * (k = 0 least significant) is DCT coefficient (k div 16, k mod 16) — the ThreatExchange format.
 *
 * Binary forms, both in text order (word 0 holds the FIRST hex digits, each word big-endian), the
 * layout mih.ts's PdqIndex.fromWords takes, so packed arrays move between the two without copying:
 * - 8 × uint32 (`Uint32Array`): word w = hex digits [8w, 8w+8). Packed banks are n × 8 words.
 * - 16 × uint16 (`Uint16Array`): word w = hex digits [4w, 4w+4) = DCT row 15 - w (the reference's
 *   Hash256::w[15 - w]); w16[2w] is the high half of w32[w].
 */

export const PDQ_HEX_LENGTH = 64;
const HEX_RE = /^[0-9a-fA-F]{64}$/;

/** True for 64 hex digits (either case). */
export function isPdqHex(s: string): boolean {
  return s.length === PDQ_HEX_LENGTH && HEX_RE.test(s);
}

/** Throws RangeError (without echoing the input, which may be anything) unless `s` is 64 hex digits. */
export function assertPdqHex(s: string): void {
  if (!isPdqHex(s)) throw new RangeError(`not a PDQ hash: expected 64 hex digits, got ${s.length} characters`);
}

/** Lower-cases and validates; throws RangeError when it is not a PDQ hash. */
export function normalizePdqHex(s: string): string {
  assertPdqHex(s);
  return s.toLowerCase();
}

/** 16 uint16 words in text order. Throws RangeError on malformed input. */
export function hexToWords16(hex: string, out: Uint16Array = new Uint16Array(16)): Uint16Array {
  assertPdqHex(hex);
  for (let w = 0; w < 16; w++) out[w] = parseInt(hex.slice(w * 4, w * 4 + 4), 16);
  return out;
}

const HEX4: string[] = Array.from({ length: 65536 }, (_, v) => v.toString(16).padStart(4, '0'));

/** Inverse of hexToWords16 (lowercase). */
export function words16ToHex(words: ArrayLike<number>): string {
  let s = '';
  for (let w = 0; w < 16; w++) s += HEX4[(words[w] as number) & 0xffff] as string;
  return s;
}

/**
 * 8 uint32 words in text order, written into `out` at `offset` so that a bank can pack n hashes into
 * one Uint32Array of n × 8 words. Throws RangeError on malformed input.
 */
export function hexToWords32(hex: string, out: Uint32Array = new Uint32Array(8), offset = 0): Uint32Array {
  if (hex.length !== PDQ_HEX_LENGTH) throw new RangeError(`not a PDQ hash: expected 64 hex digits, got ${hex.length} characters`);
  // A nibble loop rather than parseInt(slice): bank builds parse millions of hashes, and this allocates nothing.
  for (let w = 0; w < 8; w++) {
    let v = 0;
    for (let j = 0; j < 8; j++) {
      const n = hexNibble(hex.charCodeAt(w * 8 + j));
      if (n < 0) throw new RangeError(`not a PDQ hash: non-hex character at offset ${w * 8 + j}`);
      v = (v << 4) | n;
    }
    out[offset + w] = v >>> 0;
  }
  return out;
}

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Inverse of hexToWords32 for the 8 words at `offset`. */
export function words32ToHex(words: ArrayLike<number>, offset = 0): string {
  let s = '';
  for (let w = 0; w < 8; w++) {
    const v = (words[offset + w] as number) >>> 0;
    s += (HEX4[v >>> 16] as string) + (HEX4[v & 0xffff] as string);
  }
  return s;
}

export function words16ToWords32(w16: ArrayLike<number>, out: Uint32Array = new Uint32Array(8), offset = 0): Uint32Array {
  for (let w = 0; w < 8; w++) out[offset + w] = ((((w16[2 * w] as number) & 0xffff) << 16) | ((w16[2 * w + 1] as number) & 0xffff)) >>> 0;
  return out;
}

export function words32ToWords16(w32: ArrayLike<number>, offset = 0, out: Uint16Array = new Uint16Array(16)): Uint16Array {
  for (let w = 0; w < 8; w++) {
    const v = (w32[offset + w] as number) >>> 0;
    out[2 * w] = v >>> 16;
    out[2 * w + 1] = v & 0xffff;
  }
  return out;
}

/** Population count of a 32-bit integer (SWAR; no table, no branches). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Hamming distance between the 8-word hashes at a[aOff..] and b[bOff..]. */
export function hamming32(a: Uint32Array, b: Uint32Array, aOff = 0, bOff = 0): number {
  let d = 0;
  for (let i = 0; i < 8; i++) d += popcount32(((a[aOff + i] as number) ^ (b[bOff + i] as number)) >>> 0);
  return d;
}

/**
 * Hamming distance with early exit: returns a value > maxDistance as soon as it is certain to
 * exceed it (the exact count is not needed for a non-match).
 */
export function hamming32Within(a: Uint32Array, b: Uint32Array, maxDistance: number, aOff = 0, bOff = 0): number {
  let d = 0;
  for (let i = 0; i < 8; i++) {
    d += popcount32(((a[aOff + i] as number) ^ (b[bOff + i] as number)) >>> 0);
    if (d > maxDistance) return d;
  }
  return d;
}

/** Hamming distance between two 16-word hashes. */
export function hamming16(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < 16; i++) d += popcount32(((a[i] as number) ^ (b[i] as number)) & 0xffff);
  return d;
}

/** Hamming distance between two hex hashes. Throws RangeError on malformed input. */
export function hammingHex(a: string, b: string): number {
  return hamming32(hexToWords32(a), hexToWords32(b));
}
