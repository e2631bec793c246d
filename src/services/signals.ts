import type { Logger } from '../logger.js';

/**
 * SIGTERM/SIGINT → graceful stop; a second signal exits at once. Its own module so that every entry
 * point can use it without loading another service's stack (the bridge does not need sharp).
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      signalled = true;
      logger.info({ signal }, 'signal received');
      stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
