/**
 * A small labelled set for `vigil tune`, built without the implementation: PDQ distances come from
 * Meta's reference hashes of public benign images (shared/vectors/pdq/expected-noresize.tsv) with a
 * chosen number of bits flipped, so each image's distance to its bank entry is known exactly; texts
 * are harmless stand-in phrases.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VECTORS = fileURLToPath(new URL('../../../shared/vectors/pdq/', import.meta.url));

/** Reference PDQ (full-resolution convention, the default VIGIL_PDQ_MODE=full) of each vector file. */
export function referenceHashes(): Map<string, bigint> {
  const rows = readFileSync(join(VECTORS, 'expected-noresize.tsv'), 'utf8').trim().split('\n').slice(1);
  return new Map(rows.map((r) => r.split('\t')).map(([file, hex]) => [file as string, BigInt(`0x${hex}`)]));
}

export function hamming(a: bigint, b: bigint): number {
  let x = a ^ b;
  let n = 0;
  while (x) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

/** The hash with its lowest `bits` bits flipped: exactly `bits` away. */
export function flipped(hash: bigint, bits: number): bigint {
  return hash ^ ((1n << BigInt(bits)) - 1n);
}

export const hex = (h: bigint): string => h.toString(16).padStart(64, '0');

export interface TestEvent {
  eventId: string;
  /** Vector files (relative to VECTORS) sent as media. */
  images?: string[];
  text?: string;
  /** undefined: not in the labels file. */
  labels?: string[];
}

export function eventLine(e: TestEvent, n: number): string {
  return JSON.stringify({
    schema: 'vigil.message.v1',
    eventId: e.eventId,
    messageId: `msg-${n}`,
    conversationId: `conv-${n}`,
    senderId: `user-${n}`,
    recipientIds: [`user-${n + 1000}`],
    sentAt: '2026-11-27T12:00:00.000Z',
    ...(e.text !== undefined ? { text: e.text } : {}),
    media: (e.images ?? []).map((f, i) => ({
      id: `m${i + 1}`,
      mimeType: f.endsWith('.png') ? 'image/png' : 'image/jpeg',
      bytes: readFileSync(join(VECTORS, f)).toString('base64'),
    })),
  });
}

export const A = 'extra/plasma-coldripple.png';
export const B = 'extra/plasma-colorfulcups.png';
export const C = 'extra/plasma-fallenleaf.png';
export const D = 'extra/plasma-kite.png';
export const E = 'extra/plasma-onestandsout.png';
export const F = 'extra/plasma-bythewater.jpg';
export const G = 'extra/plasma-eveningglow.jpg';
export const P = 'extra/plasma-path.jpg';

/** Bits flipped per image in the block bank (G: 70, beyond the tuning radius); P is also in the allow bank. */
export const BLOCK_FLIPS: Record<string, number> = { [A]: 0, [B]: 10, [C]: 20, [D]: 33, [E]: 50, [G]: 70, [P]: 5 };

export const SPAM = 'CONGRATULATIONS you have WON a FREE cash prize, click here to claim now';
export const HAM = 'Hi, are we still on for lunch tomorrow?';

export const EVENTS: TestEvent[] = [
  { eventId: 'e1', images: [A], labels: ['sample_known_image'] },
  { eventId: 'e2', images: [B], labels: ['sample_known_image'] },
  { eventId: 'e3', images: [C], labels: [] },
  { eventId: 'e4', images: [D], labels: ['sample_known_image'] },
  { eventId: 'e5', images: [E], labels: [] },
  { eventId: 'e6', images: [F], labels: [] },
  { eventId: 'e7', images: [G], labels: ['sample_known_image'] },
  { eventId: 'e8', images: [F, C], labels: [] },
  { eventId: 'e9', images: [P], labels: ['sample_known_image'] },
  { eventId: 't1', text: 'the velvet teapot is ready', labels: ['sample_grooming'] },
  { eventId: 't2', text: 'please bring the velvet teapot', labels: [] },
  { eventId: 't3', text: 'see you at the purple harbour', labels: ['sample_contact_sharing'] },
  { eventId: 't4', text: 'lunch at noon?', labels: [] },
  { eventId: 't5', text: SPAM, labels: ['spam_scam'] },
  { eventId: 't6', text: HAM, labels: [] },
  { eventId: 'u1', text: 'a velvet teapot again' },
];

export const POLICY = `version: 2
thresholds: { pdq: { default: 15, minQuality: 50, dihedral: false } }
classifiers: { image: { run: never }, text: { run: always } }
rules:
  - id: bank
    when: { signal: { type: [md5, sha1, sha256, pdq], source: tune-bank } }
    category: sample_known_image
    severity: high
    action: review
  - id: text
    when: { signal: { type: term } }
    action: review
  - id: spam
    when: { signal: { type: classifier, label: spam_scam, minScore: 0.64 } }
    category: spam_scam
    severity: low
    action: review
`;

/** The same, but PDQ radius 40 and no term rule. */
export const CANDIDATE = POLICY.replace('default: 15', 'default: 40').replace(/ {2}- id: text\n.*\n.*\n/, '');

export interface Fixture {
  dir: string;
  events: string;
  labels: string;
  banks: string;
  policy: string;
  candidate: string;
}

export function writeFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tune-'));
  const refs = referenceHashes();
  const banks = join(dir, 'banks');
  mkdirSync(banks);
  const block = Object.entries(BLOCK_FLIPS).map(([f, bits], i) => `pdq ${hex(flipped(refs.get(f)!, bits))} entry-${i}`);
  writeFileSync(join(banks, 'tune-bank.txt'), `${block.join('\n')}\n`);
  writeFileSync(join(banks, 'tune-bank-ok.allow.txt'), `pdq ${hex(refs.get(P)!)} known-ok\n`);
  writeFileSync(
    join(banks, 'tune-terms.jsonl'),
    [
      { id: 'velvet-teapot', phrase: 'velvet teapot', category: 'sample_grooming', severity: 'high' },
      { id: 'purple-harbour', phrase: 'purple harbour', category: 'sample_contact_sharing', severity: 'medium' },
    ]
      .map((t) => JSON.stringify(t))
      .join('\n') + '\n',
  );
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, EVENTS.map((e, i) => eventLine(e, i)).join('\n') + '\n');
  const labels = join(dir, 'labels.jsonl');
  writeFileSync(
    labels,
    EVENTS.filter((e) => e.labels)
      .map((e) => JSON.stringify({ eventId: e.eventId, labels: e.labels }))
      .join('\n') + '\n',
  );
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY);
  const candidate = join(dir, 'candidate.yaml');
  writeFileSync(candidate, CANDIDATE);
  return { dir, events, labels, banks, policy, candidate };
}

export interface CsvRow {
  signal: string;
  source: string;
  threshold: string;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: string;
  recall: string;
}

export function parseCsv(text: string): { header: string; rows: CsvRow[] } {
  const [header, ...lines] = text.trim().split('\n');
  return {
    header: header!,
    rows: lines.map((l) => {
      const [signal, source, threshold, tp, fp, fn, tn, precision, recall] = l.split(',');
      return {
        signal: signal!,
        source: source!,
        threshold: threshold!,
        tp: Number(tp),
        fp: Number(fp),
        fn: Number(fn),
        tn: Number(tn),
        precision: precision!,
        recall: recall!,
      };
    }),
  };
}
