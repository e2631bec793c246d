/**
 * The one configuration schema. Every key has a doc, an environment variable and a default; values
 * come from (lowest to highest) defaults, an optional YAML file (VIGIL_CONFIG), the environment, and
 * explicit overrides (CLI flags). Validated once, then frozen. Only this module reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_LIMITS } from './core/contracts.js';
import { VigilError } from './core/errors.js';
import { maskSecrets, maskUrl, registerSecrets, splitRedisUrls } from './core/secrets.js';
import { MAX_SCAN_SHARDS, parseShardSet, withHashTag } from './core/shards.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')]);
/** One Redis URL, or (cluster mode only, checked in loadConfig) a comma-separated list of seed nodes. */
const redisUrls = z
  .string()
  .refine(
    (s) => splitRedisUrls(s).every((u) => /^rediss?:\/\/[^,\s]+$/.test(u)),
    'must be redis:// or rediss:// URLs (several, comma-separated, only with VIGIL_REDIS_CLUSTER)',
  );
const optionalString = z
  .string()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration such as 500ms, 2s, 15m, 12h, 30d, as milliseconds; empty means unset. */
const duration = (minMs: number, maxMs: number) =>
  z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      if (v === '') return undefined;
      const m = typeof v === 'number' ? [String(v), String(v), 'ms'] : /^(\d+)(ms|s|m|h|d)$/.exec(v.trim());
      const ms = m ? Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? Number.NaN) : Number.NaN;
      if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be a duration like 30d, 12h, 15m or 2s, between ${minMs / 1000} s and ${maxMs / 86_400_000} days` });
        return z.NEVER;
      }
      return ms;
    })
    .optional();

/** key → [env var, default, schema, doc]. Kept as data so `vigil config` can print the reference. */
export const CONFIG_KEYS = {
  redisUrl: [
    'REDIS_URL',
    'redis://127.0.0.1:6379',
    redisUrls,
    'Redis holding the BullMQ queues and dedupe keys (and the banks unless VIGIL_BANK_REDIS_URL is set). Holds decrypted content while events wait: see docs/architecture.md on persistence. With VIGIL_REDIS_CLUSTER, a comma-separated list of seed nodes (redis://h1:7000,redis://h2:7000).',
  ],
  bankRedisUrl: [
    'VIGIL_BANK_REDIS_URL',
    undefined,
    redisUrls.optional(),
    'Redis holding hash banks and term banks (hashes and settings, never content): run it with persistence (AOF). Default: REDIS_URL. A worker whose bank store loses banks keeps its last good snapshot and reports not ready. With VIGIL_REDIS_CLUSTER, seed nodes of a cluster too.',
  ],
  redisCluster: [
    'VIGIL_REDIS_CLUSTER',
    false,
    bool,
    'Redis Cluster mode: every connection (queues, dedupe, bank store, policy) is an ioredis Cluster seeded from REDIS_URL (and VIGIL_BANK_REDIS_URL); MOVED/ASK redirections, failovers and resharding are followed without a restart. VIGIL_QUEUE_PREFIX gets a hash tag ({bull}) if it has none.',
  ],
  scanShards: [
    'VIGIL_SCAN_SHARDS',
    1,
    int(1, MAX_SCAN_SHARDS),
    'Scan-queue shards. 1: the one scan queue under VIGIL_QUEUE_PREFIX. N > 1: N queues, each under its own hash tag ({bull-s0…}, placed by slot range so N = masters puts one shard on each master); publisher and bridge route an event by a stable hash of its conversationId. Changing N remaps some conversations: drain the scan queue first (docs/architecture.md).',
  ],
  scanShardsConsumed: [
    'VIGIL_SCAN_SHARDS_CONSUMED',
    'all',
    z.string().regex(/^\s*(all|\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*)?\s*$/, 'must be all, or shard numbers and ranges such as 0,2 or 0-3'),
    'Scan-queue shards this worker consumes: all, or a list such as 0,2 or 0-3 (each below VIGIL_SCAN_SHARDS). A worker runs one BullMQ worker per shard, each with VIGIL_CONCURRENCY.',
  ],
  queuePrefix: [
    'VIGIL_QUEUE_PREFIX',
    'bull',
    z.string().regex(/^[A-Za-z0-9_{}.-]+$/),
    'BullMQ key prefix (and of the bank-store keys). With VIGIL_REDIS_CLUSTER a prefix without a hash tag is wrapped in one (bull → {bull}) so each queue and the bank store keep their keys in one slot; moderation and dead-letter queues stay under it, scan shards get their own tags.',
  ],
  scanQueue: ['VIGIL_SCAN_QUEUE', 'vigil-scan', z.string().regex(/^[A-Za-z0-9_.-]+$/), 'Queue the ingest service publishes message events to.'],
  moderationQueue: [
    'VIGIL_MODERATION_QUEUE',
    'vigil-moderation',
    z.string().regex(/^[A-Za-z0-9_.-]+$/),
    'Queue flags are emitted to (job id = flagId, priority by severity).',
  ],
  deadLetterQueue: [
    'VIGIL_DEAD_LETTER_QUEUE',
    'vigil-dead-letter',
    z.string().regex(/^[A-Za-z0-9_.-]+$/),
    'Queue of events that cannot be scanned, with a typed reason (never content).',
  ],
  banksDir: [
    'VIGIL_BANKS_DIR',
    undefined,
    optionalString,
    'Folder of bank files: every *.txt is a hash bank ("TYPE VALUE" lines), every *.jsonl a term bank; each bank is named after its file.',
  ],
  policyFile: ['VIGIL_POLICY_FILE', 'config/policy.yaml', z.string().min(1), 'Policy mapping signals to category, severity and action.'],
  patternsFile: [
    'VIGIL_PATTERNS_FILE',
    undefined,
    optionalString,
    'Pattern rules (JSONL {id, pattern, category, severity, flags?}) evaluated on normalised text; see docs/text-scanning.md.',
  ],
  mediaDir: ['VIGIL_MEDIA_DIR', undefined, optionalString, 'Folder that media `ref`s are resolved in (refs are relative paths; nothing outside it is read).'],
  concurrency: ['VIGIL_CONCURRENCY', 16, int(1, 1000), 'Jobs one scan worker runs at once.'],
  maxAttempts: ['VIGIL_MAX_ATTEMPTS', 5, int(1, 100), 'Attempts for retriable failures before an event is dead-lettered.'],
  backoffMs: ['VIGIL_BACKOFF_MS', 1000, int(0, 3_600_000), 'First retry delay; doubles each attempt.'],
  dedupeTtlMs: [
    'VIGIL_DEDUPE_TTL_MS',
    24 * 3600 * 1000,
    int(1000, 30 * 24 * 3600 * 1000),
    'How long an eventId (and a flagId) is remembered after it was accepted, so a late duplicate is dropped. Only ids are kept.',
  ],
  failedRetentionS: [
    'VIGIL_FAILED_RETENTION_S',
    24 * 3600,
    int(0, 30 * 24 * 3600),
    'How long a job that exhausted retriable attempts is kept (with its content) in the failed set for replay; non-retriable failures are removed at once.',
  ],
  flagRecordRetentionS: [
    'VIGIL_FLAG_RECORD_RETENTION_S',
    90 * 24 * 3600,
    int(3600, 3650 * 24 * 3600),
    "How long the flag ledger (bank store) keeps each emitted flag's record (ids only: rules, banks, entries, model labels, latest decision): replays are deduplicated against it and reviewer decisions attributed through it.",
  ],
  replayRetentionS: [
    'VIGIL_REPLAY_RETENTION_S',
    7 * 24 * 3600,
    int(60, 365 * 24 * 3600),
    'How long the progress and summary of a `vigil replay` are kept (`vigil replay --status ID`).',
  ],
  decisionsQueue: [
    'VIGIL_DECISIONS_QUEUE',
    'vigil-decisions',
    z.string().regex(/^([A-Za-z0-9_.-]+)?$/),
    'Queue of vigil.decision.v1 reviewer decisions that every `vigil worker` consumes into running precision; empty: the worker does not consume decisions.',
  ],
  decisionsKafkaTopic: [
    'VIGIL_DECISIONS_KAFKA_TOPIC',
    undefined,
    optionalString,
    'If set, `vigil worker` also consumes vigil.decision.v1 records from this Kafka topic (consumer group KAFKA_GROUP_ID + "-decisions").',
  ],
  deconfirmProposeRejections: [
    'VIGIL_DECONFIRM_PROPOSE_REJECTIONS',
    3,
    int(1, 1_000_000),
    'A bank entry whose flags reviewers rejected this many times is proposed for deconfirmation in the audit log (proposed, never applied).',
  ],
  maxTextBytes: [
    'VIGIL_MAX_TEXT_BYTES',
    DEFAULT_LIMITS.maxTextBytes,
    int(1, 16 * 1024 * 1024),
    'Max UTF-8 bytes of message text; larger events are dead-lettered (TEXT_TOO_LARGE). The text scanner takes the same limit, so a text that parses is always scanned.',
  ],
  maxMediaItems: ['VIGIL_MAX_MEDIA_ITEMS', 10, int(0, 1000), 'Max media items per event.'],
  maxMediaBytes: ['VIGIL_MAX_MEDIA_BYTES', 20 * 1024 * 1024, int(1, 1024 * 1024 * 1024), 'Max bytes per media item (MEDIA_TOO_LARGE above).'],
  maxPixels: ['VIGIL_MAX_PIXELS', 100_000_000, int(1, 2_000_000_000), 'Max decoded pixels (width x height) per image; guards against decompression bombs.'],
  decodeTimeoutMs: [
    'VIGIL_DECODE_TIMEOUT_MS',
    5000,
    int(10, 600_000),
    'Time budget for decoding one image, the decode itself only (never the wait for the decode budget). MEDIA_TIMEOUT above, retried with backoff; on the last attempt the item is reported partial (reason timeout: exact hashes only) and the rest of the event is still flagged.',
  ],
  decodeBudgetPixels: [
    'VIGIL_DECODE_BUDGET_PIXELS',
    150_000_000,
    int(1, 20_000_000_000),
    'Decoded pixels (width x height) a worker process holds at once, across all jobs: about 3 bytes each for the raster, plus what the decoder holds while it works. An image larger than the budget decodes alone.',
  ],
  decodeWaitMs: [
    'VIGIL_DECODE_WAIT_MS',
    120_000,
    int(1, 3_600_000),
    'Longest wait for the decode budget before MEDIA_BUSY (retried with backoff, so a banked image is not lost to congestion).',
  ],
  pdqMode: [
    'VIGIL_PDQ_MODE',
    'full',
    z.enum(['full', 'cli512', 'fast']),
    'full: PDQ on full-resolution pixels (python-threatexchange/HMA convention); cli512: Meta C++ CLI convention (images over 512 px squashed to 512x512 first); fast: shrink-on-load first (approximate).',
  ],
  pdqThreads: [
    'VIGIL_PDQ_THREADS',
    'auto',
    z.union([z.literal('auto'), int(0, 64)]).transform((v) => (v === 'auto' ? Math.min(4, Math.max(0, availableParallelism() - 1)) : v)),
    'Worker threads beside the event loop: images up to 2 Mpx are decoded and PDQ-hashed there in one task (the raster and its digest come back), larger ones are decoded by libvips and only their PDQ goes to a thread; the same threads search big banks for dihedral matches. 0: decode on libvips threads, PDQ and every search on the main thread (the least CPU per image, the most event-loop time). auto: one per core but one, at most 4.',
  ],
  modelsDir: [
    'VIGIL_MODELS_DIR',
    undefined,
    optionalString,
    'Folder with the classifier models and their manifest.json (sha256 of every file, checked at load); unset: the bundled models/.',
  ],
  imageModel: [
    'VIGIL_IMAGE_MODEL',
    'nsfw-mobilenet-v2',
    optionalString,
    'Image classifier model id in the manifest (empty: no image classifier). The policy decides which media it runs on.',
  ],
  textModel: [
    'VIGIL_TEXT_MODEL',
    undefined,
    optionalString,
    'Text classifier model id in the manifest (unset: none). The bundled spam-scam-email-demo is an e-mail demo model; see docs/classifiers.md.',
  ],
  classifierBackend: [
    'VIGIL_CLASSIFIER_BACKEND',
    'auto',
    z.enum(['auto', 'tensorflow', 'wasm', 'cpu']),
    'TF.js backend tried first (auto: tfjs-node if installed, else wasm SIMD, else cpu); the choice and why are logged and in vigil_model_runtime_info.',
  ],
  classifierThreads: [
    'VIGIL_CLASSIFIER_THREADS',
    'auto',
    z.union([z.literal('auto'), int(1, 64)]).transform((v) => (v === 'auto' ? Math.min(4, availableParallelism()) : v)),
    'Worker threads running the image model (each holds its own copy, about 40 MB plus its wasm heap of up to a few hundred MB). auto: one per core, at most 4 (one thread caps a worker near 1000 / model ms images/s; measured in BENCHMARKS.md).',
  ],
  classifierMaxBatch: [
    'VIGIL_CLASSIFIER_MAX_BATCH',
    8,
    int(1, 8),
    'Most images one classifier thread scores at once when calls queue up (batches above 8 pin about 1 GB of wasm heap).',
  ],
  classifierTimeoutMs: ['VIGIL_CLASSIFIER_TIMEOUT_MS', 5000, int(10, 600_000), 'Time budget per image classification (CLASSIFIER_TIMEOUT above, retriable).'],
  classifierMaxQueue: [
    'VIGIL_CLASSIFIER_MAX_QUEUE',
    64,
    int(1, 100_000),
    'Images waiting for a classifier thread beyond which calls are refused (CLASSIFIER_UNAVAILABLE, retriable).',
  ],
  logLevel: ['VIGIL_LOG_LEVEL', 'info', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'pino log level.'],
  metricsHost: ['VIGIL_METRICS_HOST', '127.0.0.1', z.string().min(1), 'Address the metrics server listens on (0.0.0.0 inside a container).'],
  lockDurationMs: ['VIGIL_LOCK_MS', 30_000, int(1000, 3_600_000), 'Job lock duration: a job held by a worker that died is retried after about this long.'],
  metricsPort: [
    'VIGIL_METRICS_PORT',
    0,
    int(0, 65535),
    'Old name of VIGIL_OPS_PORT, still honoured (the ops server serves /metrics); set VIGIL_OPS_PORT instead.',
  ],
  opsPort: [
    'VIGIL_OPS_PORT',
    0,
    int(0, 65535),
    'Ops HTTP server of a worker or bridge: /healthz, /readyz, /metrics (and /dashboard with VIGIL_OPS_DASHBOARD). 0: off. `vigil ops` defaults to 9465.',
  ],
  opsHost: [
    'VIGIL_OPS_HOST',
    undefined,
    optionalString,
    'Address the ops server listens on; unset: VIGIL_METRICS_HOST (127.0.0.1). 0.0.0.0 inside a container.',
  ],
  opsToken: [
    'VIGIL_OPS_TOKEN',
    undefined,
    z
      .string()
      .transform((s) => (s === '' ? undefined : s))
      .pipe(z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional())
      .optional(),
    'Credential for the ops dashboard and every action endpoint: `Authorization: Bearer <token>`, or basic auth with any user name and the token as password. No default: the dashboard refuses to start without one.',
  ],
  opsDashboard: [
    'VIGIL_OPS_DASHBOARD',
    false,
    bool,
    "Mount the queue dashboard (Bull Board) at /dashboard on this process's ops server (`vigil ops` turns it on).",
  ],
  opsPublic: [
    'VIGIL_OPS_PUBLIC',
    'all',
    z.enum(['all', 'health', 'none']),
    'Which ops endpoints need no token: all (/healthz, /readyz, /metrics), health (/healthz, /readyz only), none. The dashboard always needs the token.',
  ],
  redisConnectTimeoutMs: [
    'VIGIL_REDIS_CONNECT_TIMEOUT_MS',
    10_000,
    int(100, 600_000),
    'How long a command, the publisher or a starting worker waits for Redis before giving up with QUEUE_UNAVAILABLE (naming the URL, password masked).',
  ],
  redisOutageGraceMs: [
    'VIGIL_REDIS_OUTAGE_GRACE_MS',
    60_000,
    int(1000, 86_400_000),
    'A running worker or bridge that loses Redis logs "Redis unreachable, retrying" every few seconds and exits 1 (for its supervisor to restart it) once Redis has been gone this long.',
  ],
  deadLetterRetentionS: [
    'VIGIL_DEAD_LETTER_RETENTION_S',
    7 * 24 * 3600,
    int(60, 365 * 24 * 3600),
    'Dead-letter entries (ids and typed reasons, never content) older than this are removed.',
  ],
  deadLetterMaxEntries: [
    'VIGIL_DEAD_LETTER_MAX_ENTRIES',
    100_000,
    int(10, 100_000_000),
    'At most this many dead-letter entries are kept; the oldest go first.',
  ],
  bankReloadMs: ['VIGIL_BANK_RELOAD_MS', 2000, int(100, 3_600_000), 'How often a worker checks Redis for a new bank version.'],
  retroWindow: [
    'VIGIL_RETRO_WINDOW',
    undefined,
    duration(1000, 366 * 24 * 3600 * 1000),
    'Retro-matching (off by default): e.g. 30d. For each scanned media item its hashes and ids (never content) are kept this long in the bank store; entries added to a bank later are matched against them and flag the past messages (flags marked retroactive).',
  ],
  retroQueue: [
    'VIGIL_RETRO_QUEUE',
    'vigil-retro',
    z.string().regex(/^[A-Za-z0-9_.-]+$/),
    'Queue of retro-match runs (one job per bank revision that added entries), so exactly one worker runs each and a crashed run is retried.',
  ],
  kafkaBrokers: ['KAFKA_BROKERS', undefined, optionalString, 'Comma-separated Kafka bootstrap servers (host:port,...).'],
  kafkaTopic: ['KAFKA_TOPIC', 'vigil.messages', z.string().min(1), 'Topic the ingest service publishes message events to.'],
  kafkaGroupId: ['KAFKA_GROUP_ID', 'vigil-bridge', z.string().min(1), 'Consumer group of the bridge; a new group starts from the earliest offset.'],
  kafkaClientId: ['KAFKA_CLIENT_ID', 'vigil', z.string().min(1), 'Kafka client id.'],
  kafkaFlagTopic: ['KAFKA_FLAG_TOPIC', undefined, optionalString, 'If set, flags are also produced to this topic (keyed by conversationId).'],
  kafkaSsl: ['KAFKA_SSL', false, bool, 'Use TLS to reach the brokers.'],
  kafkaSaslMechanism: [
    'KAFKA_SASL_MECHANISM',
    undefined,
    z
      .enum(['plain', 'scram-sha-256', 'scram-sha-512', ''])
      .transform((s) => (s === '' ? undefined : s))
      .optional(),
    'SASL mechanism (plain, scram-sha-256, scram-sha-512).',
  ],
  kafkaSaslUsername: ['KAFKA_SASL_USERNAME', undefined, optionalString, 'SASL user name.'],
  kafkaSaslPassword: ['KAFKA_SASL_PASSWORD', undefined, optionalString, 'SASL password (never printed).'],
  kafkaSessionTimeoutMs: [
    'KAFKA_SESSION_TIMEOUT_MS',
    30_000,
    int(1000, 3_600_000),
    "Consumer-group session timeout: how long a bridge that died silently keeps its partitions before the group hands them to another. Must lie within the brokers' group.min/max.session.timeout.ms.",
  ],
  bridgeHighWatermark: ['VIGIL_BRIDGE_HIGH_WATERMARK', 20_000, int(1, 100_000_000), 'Bridge pauses its partitions when the scan queue backlog passes this.'],
  bridgeLowWatermark: ['VIGIL_BRIDGE_LOW_WATERMARK', 5_000, int(0, 100_000_000), 'Bridge resumes when the backlog falls under this.'],
} as const satisfies Record<string, readonly [string, unknown, z.ZodType, string]>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
/** bankRedisUrl is always set once loaded: it defaults to redisUrl. */
export type Config = Readonly<{ [K in ConfigKey]: z.output<(typeof CONFIG_KEYS)[K][2]> } & { bankRedisUrl: string }>;

const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set(['kafkaSaslPassword', 'opsToken']);

export interface LoadConfigOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** YAML file with camelCase keys; defaults to $VIGIL_CONFIG when set. */
  file?: string;
  /** Highest precedence, e.g. CLI flags. Undefined values are ignored. */
  overrides?: Partial<Record<ConfigKey, unknown>>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.VIGIL_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new VigilError('CONFIG_INVALID', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      // The YAML library's message quotes the offending line; a file position is enough to fix it.
      const e = err as { code?: string; linePos?: { line: number; col: number }[] };
      const at = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
      throw new VigilError('CONFIG_INVALID', `config file ${file} is not valid YAML${at}${e.code ? ` (${e.code})` : ''}`);
    }
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed)))
      throw new VigilError('CONFIG_INVALID', `config file ${file} must be a mapping of keys to values`);
    fromFile = (parsed ?? {}) as Record<string, unknown>;
    const unknownKeys = Object.keys(fromFile).filter((k) => !(k in CONFIG_KEYS));
    if (unknownKeys.length)
      throw new VigilError('CONFIG_INVALID', `config file ${file}: unknown key(s) ${unknownKeys.join(', ')}; known: ${Object.keys(CONFIG_KEYS).join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, [envName, dflt, schema]] of Object.entries(CONFIG_KEYS) as [ConfigKey, readonly [string, unknown, z.ZodType, string]][]) {
    const override = options.overrides?.[key];
    const raw = override !== undefined ? override : env[envName] !== undefined ? env[envName] : key in fromFile ? fromFile[key] : dflt;
    if (raw === undefined) {
      out[key] = undefined;
      continue;
    }
    const result = schema.safeParse(raw);
    if (result.success) out[key] = result.data;
    else {
      const shown = SECRET_KEYS.has(key) ? '(hidden)' : maskSecrets(JSON.stringify(raw));
      problems.push(`${envName} (${key}) = ${shown}: ${result.error.issues[0]?.message ?? 'invalid'}`);
    }
  }
  if (problems.length) throw new VigilError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`);
  out.bankRedisUrl ??= out.redisUrl;
  for (const [key, envName] of [
    ['redisUrl', 'REDIS_URL'],
    ['bankRedisUrl', 'VIGIL_BANK_REDIS_URL'],
  ] as const) {
    const n = splitRedisUrls(out[key] as string).length;
    if (n > 1 && out.redisCluster !== true)
      throw new VigilError(
        'CONFIG_INVALID',
        `${envName} lists ${n} URLs, which is only meaningful for Redis Cluster: set VIGIL_REDIS_CLUSTER=true, or give one URL`,
      );
  }
  // BullMQ's scripts touch several keys of a queue at once: on a cluster they must share a slot.
  if (out.redisCluster === true) out.queuePrefix = withHashTag(out.queuePrefix as string);
  if (parseShardSet(out.scanShardsConsumed as string, out.scanShards as number) === undefined)
    throw new VigilError(
      'CONFIG_INVALID',
      `VIGIL_SCAN_SHARDS_CONSUMED (${String(out.scanShardsConsumed)}) names a shard outside 0-${(out.scanShards as number) - 1} (VIGIL_SCAN_SHARDS=${String(out.scanShards)}), or a range that runs backwards`,
    );
  if ((out.bridgeLowWatermark as number) >= (out.bridgeHighWatermark as number))
    throw new VigilError('CONFIG_INVALID', 'VIGIL_BRIDGE_LOW_WATERMARK must be below VIGIL_BRIDGE_HIGH_WATERMARK');
  if ((out.metricsPort as number) !== 0 && (out.opsPort as number) !== 0 && out.metricsPort !== out.opsPort)
    throw new VigilError(
      'CONFIG_INVALID',
      `VIGIL_METRICS_PORT (${String(out.metricsPort)}) is the old name of VIGIL_OPS_PORT (${String(out.opsPort)}): one server serves both; set only VIGIL_OPS_PORT`,
    );
  registerSecrets([
    out.kafkaSaslPassword as string | undefined,
    out.opsToken as string | undefined,
    ...splitRedisUrls(out.redisUrl as string).flatMap(urlPasswords),
    ...splitRedisUrls(out.bankRedisUrl as string).flatMap(urlPasswords),
  ]);
  return Object.freeze(out) as Config;
}

/**
 * The password part of a URL (`scheme://user:PASSWORD@host`), read the way maskSecrets reads it (up
 * to the last `@`), so that it is masked wherever a library quotes it.
 */
function urlPasswords(url: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^\s]*)@/i.exec(url);
  const userinfo = m?.[1];
  if (!userinfo) return [];
  const password = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : userinfo;
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // Not percent-encoded: the raw form is the one that can appear.
  }
  return [...new Set([password, decoded])].filter((p) => p.length > 0);
}

/** Where the ops server of a worker or bridge listens: VIGIL_OPS_PORT, else the old VIGIL_METRICS_PORT (0: off). */
export function opsListen(config: Config): { port: number; host: string; legacyKey: boolean } {
  return {
    port: config.opsPort || config.metricsPort,
    host: config.opsHost ?? config.metricsHost,
    legacyKey: config.opsPort === 0 && config.metricsPort !== 0,
  };
}

/** The effective configuration with secrets masked, for `vigil config` and start-up logs. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const value = config[key];
    out[key] = SECRET_KEYS.has(key) && value !== undefined ? '***' : key === 'redisUrl' || key === 'bankRedisUrl' ? maskUrl(String(value)) : value;
  }
  return out;
}

/** Markdown-ish reference of every key, for `vigil config --reference` and the README. */
export function configReference(): string {
  return (Object.entries(CONFIG_KEYS) as [ConfigKey, readonly [string, unknown, z.ZodType, string]][])
    .map(
      ([key, [envName, dflt, , doc]]) =>
        `${envName.padEnd(28)} ${key.padEnd(20)} default: ${key === 'bankRedisUrl' ? 'REDIS_URL' : dflt === undefined ? '(unset)' : String(dflt)}\n    ${doc}`,
    )
    .join('\n');
}

/** The scan-queue shards this worker consumes (VIGIL_SCAN_SHARDS_CONSUMED, validated by loadConfig). */
export function consumedShards(config: Config): number[] {
  return parseShardSet(config.scanShardsConsumed, config.scanShards) ?? [];
}

export function contractLimits(config: Config): { maxTextBytes: number; maxMediaItems: number; maxMediaBytes: number } {
  return { maxTextBytes: config.maxTextBytes, maxMediaItems: config.maxMediaItems, maxMediaBytes: config.maxMediaBytes };
}
