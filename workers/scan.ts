/**
 * Scan worker entry point: `node dist/workers/scan.js` (or `npx vigil worker`). Configuration comes
 * from the environment (see `npx vigil config --reference`). Stops gracefully on SIGTERM/SIGINT
 * (exit 0); a start-up failure prints one line and exits 2 (configuration) or 1 (anything else), and
 * losing Redis for longer than VIGIL_REDIS_OUTAGE_GRACE_MS exits 1, so a supervisor restarts it.
 */
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { runEntryPoint } from '../src/services/context.js';
import { runScanWorker } from '../src/services/scan-service.js';

await runEntryPoint('worker', async () => {
  const config = loadConfig();
  return runScanWorker(config, createLogger(config.logLevel));
});
