import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../logger.js';
import { runScanWorker } from '../../services/scan-service.js';
import { configOverrides, withConfigOptions } from '../io.js';

export function register(program: Command): Command {
  return withConfigOptions(
    program.command('worker').description('Run a scan worker: consume the scan queue, scan, decide, emit flags to the moderation queue.'),
    ['redis', 'banks', 'policy', 'concurrency'],
  )
    .addHelpText(
      'after',
      `
The worker acknowledges a job only after its flags are on the moderation queue. Retriable failures
are retried with exponential backoff (VIGIL_MAX_ATTEMPTS, VIGIL_BACKOFF_MS); invalid events and
undecodable media go to the dead-letter queue with a typed code. Banks and policy files are re-read
within VIGIL_BANK_RELOAD_MS of a change. SIGTERM/SIGINT: finish jobs in flight, then exit 0.
A start-up failure (bad policy, missing banks or patterns, metrics port in use, Redis not answering
within VIGIL_REDIS_CONNECT_TIMEOUT_MS) prints one line and exits 2 (configuration) or 1. A running
worker that loses Redis logs "Redis unreachable, retrying" every 2 s and exits 1 after
VIGIL_REDIS_OUTAGE_GRACE_MS, so its supervisor restarts it.
Logs are JSON on stderr (pino) and never contain message text or media bytes.

Examples:
  npx vigil worker --banks config/samples/banks
  REDIS_URL=redis://10.0.0.5:6379 VIGIL_CONCURRENCY=32 VIGIL_METRICS_PORT=9464 npx vigil worker`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: configOverrides(opts) });
      const logger = createLogger(config.logLevel);
      process.exitCode = await runScanWorker(config, logger);
    });
}
