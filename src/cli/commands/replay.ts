/** `vigil replay`: re-publish past events at backfill priority under a replay id (src/services/replay.ts). */
import type { Command } from 'commander';
import { contractLimits, loadConfig, type Config } from '../../config.js';
import { parseMessageEvent, salvageIds } from '../../core/contracts.js';
import { VigilError, toVigilError } from '../../core/errors.js';
import { closeRedis, createRedis, waitForRedis } from '../../adapters/bullmq/connection.js';
import { BullDeadLetterSink, ShardedScanQueue } from '../../adapters/bullmq/queues.js';
import { bankStoreRedisUrl, openBankStoreRedis } from '../../adapters/bank-redis.js';
import { flagLedger, type ReplayState } from '../../adapters/flag-ledger.js';
import { REPLAY_ID, fileOrigin, newReplayId, replayPublisher, waitForReplay } from '../../services/replay.js';
import { createLogger } from '../../logger.js';
import { configOverrides, parseIntOption, printErr, printJson, progressBar, readLines, UsageError, withConfigOptions } from '../io.js';

interface Summary {
  replayId: string;
  events: number;
  flagsNew: number;
  flagsAlreadyKnown: number;
  deadLetters: number;
  complete: boolean;
}

function summaryOf(s: ReplayState, complete: boolean): Summary {
  return {
    replayId: s.replayId,
    events: Math.max(0, s.published),
    flagsNew: s.flagsNew,
    flagsAlreadyKnown: s.flagsKnown,
    deadLetters: s.deadLetters,
    complete,
  };
}

function print(summary: Summary, json: boolean): void {
  if (json) printJson(summary);
  else
    printErr(
      `replay ${summary.replayId}${summary.complete ? '' : ' (not finished)'}: ${summary.events} event(s), ${summary.flagsNew} flag(s) new, ${summary.flagsAlreadyKnown} flag(s) already known, ${summary.deadLetters} dead letter(s)`,
    );
}

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('replay')
      .description(
        'Re-publish past events (a JSONL file or a Kafka topic range) at backfill priority under a replay id; flags already raised are not raised again.',
      )
      .option('--events <file>', 'JSONL file of vigil.message.v1 events ("-" for stdin)')
      .option('--kafka-topic <topic>', 'read the events from this Kafka topic (KAFKA_BROKERS) instead')
      .option('--from <offset|time>', 'with --kafka-topic: first offset (every partition) or ISO time to read from', '0')
      .option('--to <offset|time>', 'with --kafka-topic: offset or ISO time to stop before (default: the end of each partition now)')
      .option('--replay-id <id>', 'id of this replay (default: rp-TIME-RANDOM); the same id again adds nothing already replayed under it')
      .option('--status <id>', 'print the progress of an earlier replay and exit')
      .option('--no-wait', 'publish and exit without waiting for the workers (summary counts what is done so far)')
      .option(
        '--timeout <s>',
        'seconds to wait for the workers to finish the replayed events (default 3600)',
        parseIntOption('--timeout', 1, 7 * 24 * 3600),
        3600,
      )
      .option('--json', 'the final summary as one JSON line on stdout'),
    ['redis'],
  )
    .addHelpText(
      'after',
      `
Events keep their eventId, so their flags keep their flagIds; only their priority becomes backfill
(workers take backfill only when nothing else waits). A flag the flag ledger already holds (emitted
before, within VIGIL_FLAG_RECORD_RETENTION_S, default 90 days) is not raised again. The command waits
for the workers (\`vigil worker\` must run) and prints: events, flags new, flags already known, dead
letters. Lines or records that do not parse are dead-lettered. Exit 1 on --timeout (REPLAY_TIMEOUT;
the workers keep going: \`vigil replay --status ID\`). --json output:
{"replayId":…,"events":N,"flagsNew":N,"flagsAlreadyKnown":N,"deadLetters":N,"complete":true}

Examples:
  npx vigil replay --events last-week.jsonl
  npx vigil replay --kafka-topic vigil.messages --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z --json
  npx vigil replay --status rp-20261203-101500-k3x9za`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: configOverrides(opts) });
      const json = opts.json === true;
      const sources = [opts.events, opts.kafkaTopic, opts.status].filter((v) => v !== undefined).length;
      if (sources !== 1) throw new UsageError('replay: give exactly one of --events FILE, --kafka-topic TOPIC or --status ID');
      const replayId = (opts.status ?? opts.replayId ?? newReplayId()) as string;
      if (!REPLAY_ID.test(replayId)) throw new UsageError('--replay-id must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit');
      await withStores(config, async ({ scanQueue, deadLetters, ledger }) => {
        const bar = progressBar(`replay ${replayId}`);
        const wait = async (): Promise<Summary> => {
          if (opts.wait === false) {
            const s = await ledger.replay(replayId);
            if (!s) throw new UsageError(`no replay ${replayId}`);
            return summaryOf(s, s.published >= 0 && s.done >= s.published);
          }
          try {
            const s = await waitForReplay(ledger, replayId, {
              timeoutMs: (opts.timeout as number) * 1000,
              onProgress: (st) => bar.update(st.done, st.published, 'scanned'),
            });
            bar.done();
            return summaryOf(s, true);
          } catch (err) {
            bar.done();
            const state = (err as { state?: ReplayState }).state;
            if (state) print(summaryOf(state, false), json);
            throw err;
          }
        };
        if (opts.status === undefined) {
          const publisher = replayPublisher({
            replayId,
            source: opts.events !== undefined ? `file:${String(opts.events)}` : `kafka:${String(opts.kafkaTopic)}`,
            scanQueue,
            deadLetters,
            ledger,
            highWatermark: config.bridgeHighWatermark,
            lowWatermark: config.bridgeLowWatermark,
            onProgress: (read) => bar.update(read, -1, 'published'),
          });
          if (opts.events !== undefined) {
            const file = String(opts.events);
            const limits = contractLimits(config);
            for await (const { line, text } of readLines(file)) {
              try {
                await publisher.add({ event: parseMessageEvent(text, limits) });
              } catch (err) {
                if (!(err instanceof VigilError) || err.code === 'QUEUE_UNAVAILABLE') throw err;
                await publisher.add({
                  dead: { ...salvageIds(text), code: err.code, message: err.message, origin: fileOrigin(file, line), at: new Date().toISOString() },
                });
              }
            }
          } else await publishKafkaRange(config, opts, replayId, publisher.add);
          const published = await publisher.finish();
          if (!json)
            printErr(
              `replay ${replayId}: ${published.published} event(s) published at backfill priority${published.invalid ? `, ${published.invalid} invalid (dead-lettered)` : ''}`,
            );
        }
        print(await wait(), json);
      });
    });
}

async function publishKafkaRange(
  config: Config,
  opts: Record<string, unknown>,
  replayId: string,
  add: ReturnType<typeof replayPublisher>['add'],
): Promise<void> {
  const [{ createKafka }, { readTopicRange, parseRangeBound }, { parseKafkaRecord, maxRecordBytesFor }] = await Promise.all([
    import('../../adapters/kafka/client.js'),
    import('../../adapters/kafka/range-reader.js'),
    import('../../adapters/kafka/bridge.js'),
  ]);
  const bound = (v: unknown, flag: string) => {
    try {
      return parseRangeBound(String(v), flag);
    } catch (err) {
      throw new UsageError(toVigilError(err).message);
    }
  };
  const topic = String(opts.kafkaTopic);
  const limits = contractLimits(config);
  const maxBytes = maxRecordBytesFor(limits);
  const kafka = createKafka(config, createLogger(config.logLevel));
  await readTopicRange({
    kafka,
    topic,
    from: bound(opts.from, '--from'),
    to: opts.to === undefined ? undefined : bound(opts.to, '--to'),
    groupId: `vigil-replay-${replayId}`,
    timeoutMs: (opts.timeout as number) * 1000,
    onRecords: async (partition, messages) => {
      for (const m of messages) await add(parseKafkaRecord(topic, partition, m, limits, maxBytes));
    },
  });
}

async function withStores<T>(
  config: Config,
  work: (s: { scanQueue: ShardedScanQueue; deadLetters: BullDeadLetterSink; ledger: ReturnType<typeof flagLedger> }) => Promise<T>,
): Promise<T> {
  const redis = createRedis(config.redisUrl, 'producer', { cluster: config.redisCluster });
  const bankRedis = openBankStoreRedis(config, 'producer');
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  // Routed by conversationId like the publisher and the bridge (VIGIL_SCAN_SHARDS).
  const scanQueue = new ShardedScanQueue({ ...settings, name: config.scanQueue, failedRetentionS: config.failedRetentionS, shards: config.scanShards });
  const deadLetters = new BullDeadLetterSink(config.deadLetterQueue, {
    ...settings,
    retentionS: config.deadLetterRetentionS,
    maxEntries: config.deadLetterMaxEntries,
  });
  try {
    await waitForRedis(redis, config.redisConnectTimeoutMs, config.redisUrl);
    await waitForRedis(bankRedis, config.redisConnectTimeoutMs, bankStoreRedisUrl(config));
    return await work({ scanQueue, deadLetters, ledger: flagLedger(bankRedis, config) });
  } finally {
    await Promise.all([scanQueue.close(), deadLetters.close()]).catch(() => undefined);
    await Promise.all([closeRedis(redis), closeRedis(bankRedis)]);
  }
}
