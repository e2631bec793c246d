/**
 * Kafka bridge entry point: `node dist/workers/kafka-bridge.js` (or `npx vigil bridge`). Consumes
 * KAFKA_TOPIC in consumer group KAFKA_GROUP_ID and enqueues each event on the scan queue; see
 * docs/kafka.md. Stops gracefully on SIGTERM/SIGINT (finish the chunk in hand, commit, leave the group,
 * exit 0); exits 1 if the consumer crashed for good or Redis stayed away past its grace, so the
 * supervisor restarts it; a start-up failure prints one line and exits non-zero.
 */
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { runBridge } from '../src/services/bridge-service.js';
import { runEntryPoint } from '../src/services/context.js';

await runEntryPoint('bridge', async () => {
  const config = loadConfig();
  return runBridge(config, createLogger(config.logLevel));
});
