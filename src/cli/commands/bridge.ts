import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../logger.js';
import { runBridge } from '../../services/bridge-service.js';
import { UsageError, configOverrides, parseIntOption, withConfigOptions } from '../io.js';

export function register(program: Command): Command {
  return withConfigOptions(
    program.command('bridge').description('Run the Kafka bridge: consume message events from a Kafka topic and enqueue them on the scan queue.'),
    ['redis'],
  )
    .option('--brokers <list>', 'Kafka bootstrap servers, host:port,... (env KAFKA_BROKERS)')
    .option('--topic <topic>', 'topic of vigil.message.v1 events (env KAFKA_TOPIC, default vigil.messages)')
    .option('--group <id>', 'consumer group; run more bridges with the same group to split the partitions (env KAFKA_GROUP_ID)')
    .option(
      '--high-watermark <n>',
      'pause when the scan backlog would pass this (env VIGIL_BRIDGE_HIGH_WATERMARK)',
      parseIntOption('--high-watermark', 1, 100_000_000),
    )
    .option(
      '--low-watermark <n>',
      'resume when the scan backlog is at or under this (env VIGIL_BRIDGE_LOW_WATERMARK)',
      parseIntOption('--low-watermark', 0, 100_000_000),
    )
    .addHelpText(
      'after',
      `
Each record is parsed with the vigil.message.v1 parser and enqueued with jobId = eventId. Offsets are
committed only after the enqueue succeeded, so a crash replays (duplicates are absorbed by the queue)
and never loses an event. A new consumer group starts at the earliest offset. Poison records (not
JSON, wrong schema, too large) go to the dead-letter queue with topic/partition/offset and a typed
code, never their content, and are committed so the partition keeps flowing. When the scan backlog
reaches the high watermark the bridge pauses its partitions and resumes at the low watermark
(metrics vigil_bridge_paused, vigil_bridge_scan_backlog, vigil_bridge_pauses_total).
SIGTERM/SIGINT: finish the chunk in hand, commit, leave the group, exit 0.

Environment:
  KAFKA_BROKERS              bootstrap servers (required), e.g. kafka-1:9092,kafka-2:9092
  KAFKA_TOPIC                topic to consume (default vigil.messages)
  KAFKA_GROUP_ID             consumer group (default vigil-bridge)
  KAFKA_CLIENT_ID            client id (default vigil)
  KAFKA_SSL                  true: TLS to the brokers (CA bundle: NODE_EXTRA_CA_CERTS)
  KAFKA_SASL_MECHANISM       plain, scram-sha-256 or scram-sha-512
  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD
  KAFKA_SESSION_TIMEOUT_MS   how long a dead bridge keeps its partitions (default 30000)
  VIGIL_BRIDGE_HIGH_WATERMARK, VIGIL_BRIDGE_LOW_WATERMARK   backpressure (default 20000 / 5000)
  REDIS_URL, VIGIL_QUEUE_PREFIX, VIGIL_SCAN_QUEUE, VIGIL_DEAD_LETTER_QUEUE   where events go
  VIGIL_METRICS_PORT         serve Prometheus metrics on this port (0: off)
See docs/kafka.md and \`vigil config --reference\`.

Examples:
  npx vigil bridge --brokers 127.0.0.1:9092
  KAFKA_BROKERS=kafka:9093 KAFKA_SSL=true KAFKA_SASL_MECHANISM=scram-sha-512 \\
    KAFKA_SASL_USERNAME=vigil KAFKA_SASL_PASSWORD=... npx vigil bridge --group vigil-bridge-eu`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({
        overrides: {
          ...configOverrides(opts),
          kafkaBrokers: opts.brokers,
          kafkaTopic: opts.topic,
          kafkaGroupId: opts.group,
          bridgeHighWatermark: opts.highWatermark,
          bridgeLowWatermark: opts.lowWatermark,
        },
      });
      if (config.kafkaBrokers === undefined) throw new UsageError('bridge: no brokers; pass --brokers host:port,... or set KAFKA_BROKERS');
      const logger = createLogger(config.logLevel);
      process.exitCode = await runBridge(config, logger);
    });
}
