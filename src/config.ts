/**
 * The one configuration schema. Every key has a doc, an environment variable and a default; values
 * come from (lowest to highest) defaults, an optional YAML file (VIGIL_CONFIG), the environment, and
 * explicit overrides (CLI flags). Validated once, then frozen. Only this module reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { VigilError } from './core/errors.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')]);
const optionalString = z.string().transform((s) => (s === '' ? undefined : s)).optional();

/** key → [env var, default, schema, doc]. Kept as data so `vigil config` can print the reference. */
export const CONFIG_KEYS = {
  redisUrl: ['REDIS_URL', 'redis://127.0.0.1:6379', z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'), 'Redis holding the BullMQ queues and dedupe keys (and the banks unless VIGIL_BANK_REDIS_URL is set). Holds decrypted content while events wait: see docs/architecture.md on persistence.'],
  bankRedisUrl: ['VIGIL_BANK_REDIS_URL', undefined, z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(), 'Redis holding hash banks and term banks (hashes and settings, never content): run it with persistence (AOF). Default: REDIS_URL. A worker whose bank store loses banks keeps its last good snapshot and reports not ready.'],
  queuePrefix: ['VIGIL_QUEUE_PREFIX', 'bull', z.string().regex(/^[A-Za-z0-9_{}.-]+$/), 'BullMQ key prefix. Use a hash tag such as {vigil} on Redis Cluster so each queue shares a slot.'],
  scanQueue: ['VIGIL_SCAN_QUEUE', 'vigil-scan', z.string().regex(/^[A-Za-z0-9_.-]+$/), 'Queue the ingest service publishes message events to.'],
  moderationQueue: ['VIGIL_MODERATION_QUEUE', 'vigil-moderation', z.string().regex(/^[A-Za-z0-9_.-]+$/), 'Queue flags are emitted to (job id = flagId, priority by severity).'],
  deadLetterQueue: ['VIGIL_DEAD_LETTER_QUEUE', 'vigil-dead-letter', z.string().regex(/^[A-Za-z0-9_.-]+$/), 'Queue of events that cannot be scanned, with a typed reason (never content).'],
  banksDir: ['VIGIL_BANKS_DIR', undefined, optionalString, 'Folder of bank files: every *.txt is a hash bank ("TYPE VALUE" lines), every *.jsonl a term bank; each bank is named after its file.'],
  policyFile: ['VIGIL_POLICY_FILE', 'config/policy.yaml', z.string().min(1), 'Policy mapping signals to category, severity and action.'],
  patternsFile: ['VIGIL_PATTERNS_FILE', undefined, optionalString, 'Pattern rules (JSONL {id, pattern, category, severity, flags?}) evaluated on normalised text; see docs/text-scanning.md.'],
  mediaDir: ['VIGIL_MEDIA_DIR', undefined, optionalString, 'Folder that media `ref`s are resolved in (refs are relative paths; nothing outside it is read).'],
  concurrency: ['VIGIL_CONCURRENCY', 16, int(1, 1000), 'Jobs one scan worker runs at once.'],
  maxAttempts: ['VIGIL_MAX_ATTEMPTS', 5, int(1, 100), 'Attempts for retriable failures before an event is dead-lettered.'],
  backoffMs: ['VIGIL_BACKOFF_MS', 1000, int(0, 3_600_000), 'First retry delay; doubles each attempt.'],
  dedupeTtlMs: ['VIGIL_DEDUPE_TTL_MS', 24 * 3600 * 1000, int(1000, 30 * 24 * 3600 * 1000), 'How long an eventId (and a flagId) is remembered after it was accepted, so a late duplicate is dropped. Only ids are kept.'],
  failedRetentionS: ['VIGIL_FAILED_RETENTION_S', 24 * 3600, int(0, 30 * 24 * 3600), 'How long a job that exhausted retriable attempts is kept (with its content) in the failed set for replay; non-retriable failures are removed at once.'],
  maxTextBytes: ['VIGIL_MAX_TEXT_BYTES', 64 * 1024, int(1, 16 * 1024 * 1024), 'Max UTF-8 bytes of message text; larger events are dead-lettered (TEXT_TOO_LARGE).'],
  maxMediaItems: ['VIGIL_MAX_MEDIA_ITEMS', 10, int(0, 1000), 'Max media items per event.'],
  maxMediaBytes: ['VIGIL_MAX_MEDIA_BYTES', 20 * 1024 * 1024, int(1, 1024 * 1024 * 1024), 'Max bytes per media item (MEDIA_TOO_LARGE above).'],
  maxPixels: ['VIGIL_MAX_PIXELS', 100_000_000, int(1, 2_000_000_000), 'Max decoded pixels (width x height) per image; guards against decompression bombs.'],
  decodeTimeoutMs: ['VIGIL_DECODE_TIMEOUT_MS', 5000, int(10, 600_000), 'Time budget for decoding one image (MEDIA_TIMEOUT above).'],
  pdqMode: ['VIGIL_PDQ_MODE', 'full', z.enum(['full', 'cli512', 'fast']), 'full: PDQ on full-resolution pixels (python-threatexchange/HMA convention); cli512: Meta C++ CLI convention (images over 512 px squashed to 512x512 first); fast: shrink-on-load first (approximate).'],
  pdqThreads: ['VIGIL_PDQ_THREADS', 'auto', z.union([z.literal('auto'), int(0, 64)]).transform((v) => (v === 'auto' ? Math.min(4, Math.max(0, availableParallelism() - 1)) : v)), 'Worker threads computing PDQ beside the event loop (0: on the main thread). auto: one per core but one, at most 4.'],
  logLevel: ['VIGIL_LOG_LEVEL', 'info', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'pino log level.'],
  metricsHost: ['VIGIL_METRICS_HOST', '127.0.0.1', z.string().min(1), 'Address the metrics server listens on (0.0.0.0 inside a container).'],
  lockDurationMs: ['VIGIL_LOCK_MS', 30_000, int(1000, 3_600_000), 'Job lock duration: a job held by a worker that died is retried after about this long.'],
  metricsPort: ['VIGIL_METRICS_PORT', 0, int(0, 65535), 'Serve Prometheus metrics on this port at /metrics (0: off).'],
  bankReloadMs: ['VIGIL_BANK_RELOAD_MS', 2000, int(100, 3_600_000), 'How often a worker checks Redis for a new bank version.'],
  kafkaBrokers: ['KAFKA_BROKERS', undefined, optionalString, 'Comma-separated Kafka bootstrap servers (host:port,...).'],
  kafkaTopic: ['KAFKA_TOPIC', 'vigil.messages', z.string().min(1), 'Topic the ingest service publishes message events to.'],
  kafkaGroupId: ['KAFKA_GROUP_ID', 'vigil-bridge', z.string().min(1), 'Consumer group of the bridge; a new group starts from the earliest offset.'],
  kafkaClientId: ['KAFKA_CLIENT_ID', 'vigil', z.string().min(1), 'Kafka client id.'],
  kafkaFlagTopic: ['KAFKA_FLAG_TOPIC', undefined, optionalString, 'If set, flags are also produced to this topic (keyed by conversationId).'],
  kafkaSsl: ['KAFKA_SSL', false, bool, 'Use TLS to reach the brokers.'],
  kafkaSaslMechanism: ['KAFKA_SASL_MECHANISM', undefined, z.enum(['plain', 'scram-sha-256', 'scram-sha-512', '']).transform((s) => (s === '' ? undefined : s)).optional(), 'SASL mechanism (plain, scram-sha-256, scram-sha-512).'],
  kafkaSaslUsername: ['KAFKA_SASL_USERNAME', undefined, optionalString, 'SASL user name.'],
  kafkaSaslPassword: ['KAFKA_SASL_PASSWORD', undefined, optionalString, 'SASL password (never printed).'],
  kafkaSessionTimeoutMs: ['KAFKA_SESSION_TIMEOUT_MS', 30_000, int(1000, 3_600_000), 'Consumer-group session timeout: how long a bridge that died silently keeps its partitions before the group hands them to another. Must lie within the brokers\' group.min/max.session.timeout.ms.'],
  bridgeHighWatermark: ['VIGIL_BRIDGE_HIGH_WATERMARK', 20_000, int(1, 100_000_000), 'Bridge pauses its partitions when the scan queue backlog passes this.'],
  bridgeLowWatermark: ['VIGIL_BRIDGE_LOW_WATERMARK', 5_000, int(0, 100_000_000), 'Bridge resumes when the backlog falls under this.'],
} as const satisfies Record<string, readonly [string, unknown, z.ZodType, string]>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
/** bankRedisUrl is always set once loaded: it defaults to redisUrl. */
export type Config = Readonly<{ [K in ConfigKey]: z.output<(typeof CONFIG_KEYS)[K][2]> } & { bankRedisUrl: string }>;

const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set(['kafkaSaslPassword']);

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
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new VigilError('CONFIG_INVALID', `config file ${file} must be a mapping of keys to values`);
    fromFile = (parsed ?? {}) as Record<string, unknown>;
    const unknownKeys = Object.keys(fromFile).filter((k) => !(k in CONFIG_KEYS));
    if (unknownKeys.length) throw new VigilError('CONFIG_INVALID', `config file ${file}: unknown key(s) ${unknownKeys.join(', ')}; known: ${Object.keys(CONFIG_KEYS).join(', ')}`);
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
      const shown = SECRET_KEYS.has(key) ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${envName} (${key}) = ${shown}: ${result.error.issues[0]?.message ?? 'invalid'}`);
    }
  }
  if (problems.length) throw new VigilError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`);
  out.bankRedisUrl ??= out.redisUrl;
  if ((out.bridgeLowWatermark as number) >= (out.bridgeHighWatermark as number))
    throw new VigilError('CONFIG_INVALID', 'VIGIL_BRIDGE_LOW_WATERMARK must be below VIGIL_BRIDGE_HIGH_WATERMARK');
  return Object.freeze(out) as Config;
}

/** The effective configuration with secrets masked, for `vigil config` and start-up logs. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const value = config[key];
    out[key] = SECRET_KEYS.has(key) && value !== undefined ? '***' : key === 'redisUrl' || key === 'bankRedisUrl' ? String(value).replace(/\/\/([^@/]*)@/, '//***@') : value;
  }
  return out;
}

/** Markdown-ish reference of every key, for `vigil config --reference` and the README. */
export function configReference(): string {
  return (Object.entries(CONFIG_KEYS) as [ConfigKey, readonly [string, unknown, z.ZodType, string]][])
    .map(([key, [envName, dflt, , doc]]) => `${envName.padEnd(28)} ${key.padEnd(20)} default: ${key === 'bankRedisUrl' ? 'REDIS_URL' : dflt === undefined ? '(unset)' : String(dflt)}\n    ${doc}`)
    .join('\n');
}

export function contractLimits(config: Config): { maxTextBytes: number; maxMediaItems: number; maxMediaBytes: number } {
  return { maxTextBytes: config.maxTextBytes, maxMediaItems: config.maxMediaItems, maxMediaBytes: config.maxMediaBytes };
}
