/**
 * Hashed text features for the text classifier, from the same normalisation as the term matcher
 * (`normalizeText`: NFKC folding, lookalikes, leetspeak, repeated letters), so "fr33 pr1ze" and
 * "free prize" look alike to the model exactly as they do to the term banks.
 *
 * Features: the match keys of the tokens (unigrams) and of adjacent token pairs (bigrams), hashed with
 * 32-bit FNV-1a into `dimensions` buckets, present/absent, scaled to unit length. Training and scoring
 * share this one function and the model's saved config, so they cannot drift apart; a probe text whose
 * features are recorded at training time detects a normaliser that changed since (MODEL_INVALID).
 */
import { normalizeText } from '../core/text/index.js';
import { sha256 } from './manifest.js';

export const TEXT_FEATURES_SCHEMA = 'vigil.text-features.v1';

export interface TextFeatureConfig {
  schema: typeof TEXT_FEATURES_SCHEMA;
  /** Number of hash buckets: a power of two. */
  dimensions: number;
  /** Word n-gram orders, over the normalised match keys. */
  ngrams: readonly number[];
  /** Only the first `maxChars` UTF-16 units are featurised (long e-mails; messages are far shorter). */
  maxChars: number;
  /** sha256 of the probe's feature indices at training time (see `probeFingerprint`). */
  probe: string;
}

/** Exercises folding, lookalikes, leetspeak, repeats, separators and pairs: any normaliser change shows. */
export const FEATURE_PROBE_TEXT = 'Ｆr33 PRIZE!!! ссылка cl1ck heeeere: t.e.a.p.o.t, 10am — "ça va?" ß ﬁne';

export interface SparseFeatures {
  /** Bucket indices, ascending, distinct. */
  indices: Int32Array;
  /** The value of every present feature: 1/√n, so the vector has unit length (0 when empty). */
  weight: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// Seeds a bigram's hash from the previous key's hash, so "a b" and "ab" land in different buckets.
const PAIR_SALT = 0x9e3779b9;

function fnv1a(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** Scratch of `featureBuckets`, grown on demand (it is synchronous and never re-entered). */
let scratch = new Int32Array(256);
/** Per bucket: 1 while the current call has it. Cleared through the list of distinct buckets after each call. */
let seen = new Uint8Array(0);

/**
 * The distinct buckets of a text's features, in no particular order, in a scratch array that the next
 * call overwrites: the scorer's hot path (a dot product needs no order, and sorting plus a copy cost
 * more than the hashing on a chat-sized message). `featurize` is the stable, sorted form.
 */
export function featureBuckets(text: string, config: Pick<TextFeatureConfig, 'dimensions' | 'ngrams' | 'maxChars'>): { buckets: Int32Array; count: number } {
  const mask = config.dimensions - 1;
  const tokens = normalizeText(text.length > config.maxChars ? text.slice(0, config.maxChars) : text).tokens;
  const uni = config.ngrams.includes(1);
  const bi = config.ngrams.includes(2);
  if (scratch.length < tokens.length * 2) scratch = new Int32Array(tokens.length * 4);
  if (seen.length !== config.dimensions) seen = new Uint8Array(config.dimensions);
  const buf = scratch;
  let n = 0;
  const add = (bucket: number): void => {
    if (seen[bucket] === 1) return;
    seen[bucket] = 1;
    buf[n++] = bucket;
  };
  let prev = 0;
  for (let i = 0; i < tokens.length; i++) {
    const key = (tokens[i] as { key: string }).key;
    const h = fnv1a(key, FNV_OFFSET);
    if (uni) add(h & mask);
    if (bi && i > 0) add(fnv1a(key, Math.imul(prev ^ PAIR_SALT, FNV_PRIME) >>> 0) & mask);
    prev = h;
  }
  for (let i = 0; i < n; i++) seen[buf[i] as number] = 0;
  return { buckets: buf, count: n };
}

export function featurize(text: string, config: Pick<TextFeatureConfig, 'dimensions' | 'ngrams' | 'maxChars'>): SparseFeatures {
  const { buckets, count } = featureBuckets(text, config);
  return { indices: buckets.slice(0, count).sort(), weight: count > 0 ? 1 / Math.sqrt(count) : 0 };
}

/** The probe's features as a fingerprint of the normaliser + hashing in use. */
export function probeFingerprint(config: Pick<TextFeatureConfig, 'dimensions' | 'ngrams' | 'maxChars'>): string {
  return sha256(featurize(FEATURE_PROBE_TEXT, config).indices.join(','));
}

export function defaultFeatureConfig(dimensions = 1 << 14): TextFeatureConfig {
  if (!Number.isInteger(dimensions) || dimensions < 16 || dimensions > 1 << 22 || (dimensions & (dimensions - 1)) !== 0)
    throw new RangeError('dimensions must be a power of two between 16 and 4194304');
  const base = { dimensions, ngrams: [1, 2], maxChars: 4000 };
  return { schema: TEXT_FEATURES_SCHEMA, ...base, probe: probeFingerprint(base) };
}

/** Dense copy of sparse features, for TF.js (training, and the equality test against it). */
export function densify(f: SparseFeatures, dimensions: number, into = new Float32Array(dimensions), offset = 0): Float32Array {
  for (let i = 0; i < f.indices.length; i++) into[offset + (f.indices[i] as number)] = f.weight;
  return into;
}
