/**
 * Scan worker entry point: `node dist/workers/scan.js` (or `npx vigil worker`). Configuration comes
 * from the environment (see `npx vigil config --reference`). Stops gracefully on SIGTERM/SIGINT.
 */
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startScanService } from '../src/services/scan-service.js';
import { stopOnSignals } from '../src/services/signals.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const service = await startScanService(config, logger);
await stopOnSignals(service.stop, logger);
