/**
 * One service context per process (the idea of Ozone's DaemonContext): everything a long-running
 * process opens is opened through it, in order, and registered with its close. If start-up fails,
 * what was opened is closed again (newest first) and the process exits non-zero with one clear line,
 * no stack. On shutdown every resource is closed independently: a close that fails is logged and the
 * others still close.
 */
import { exitCodeFor, isVigilError } from '../core/errors.js';
import { maskSecrets } from '../core/secrets.js';
import type { Logger } from '../logger.js';

interface Registered {
  name: string;
  close: () => unknown;
  timeoutMs: number;
}

export interface CloseOptions {
  /** A close that takes longer counts as failed (logged) and the next resource is closed. */
  timeoutMs?: number;
}

/** Closing must end even when a dependency is gone (a drain that waits on a dead Redis). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export class ServiceContext {
  readonly #resources: Registered[] = [];
  #closing: Promise<string[]> | undefined;

  constructor(readonly logger: Logger) {}

  /** Opens a resource and registers `close` for it; when `open` throws, nothing is registered. */
  async open<T>(name: string, open: () => T | Promise<T>, close: (resource: T) => unknown, options: CloseOptions = {}): Promise<T> {
    if (this.#closing) throw new Error(`service context is closing; cannot open ${name}`);
    const resource = await open();
    this.#resources.push({ name, close: () => close(resource), timeoutMs: options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS });
    return resource;
  }

  /** Registers something already open (anything with a `close()`), and returns it. */
  use<T extends { close(): unknown }>(name: string, resource: T, options: CloseOptions = {}): T {
    this.#resources.push({ name, close: () => resource.close(), timeoutMs: options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS });
    return resource;
  }

  /** Registers a clean-up step that is not an object, e.g. clearing a timer. */
  defer(name: string, close: () => unknown, options: CloseOptions = {}): void {
    this.#resources.push({ name, close, timeoutMs: options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS });
  }

  /** Names of what is open, oldest first (for tests and the start-up log). */
  names(): string[] {
    return this.#resources.map((r) => r.name);
  }

  /**
   * Closes every resource, newest first (so a worker drains before the connection it uses goes),
   * each on its own: a failing close is logged and does not stop the others. Resolves with the
   * names of those that failed. Idempotent.
   */
  close(): Promise<string[]> {
    return (this.#closing ??= (async () => {
      const failed: string[] = [];
      for (const r of [...this.#resources].reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(r.close),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`close did not finish within ${r.timeoutMs} ms`)), r.timeoutMs))),
          ]);
        } catch (err) {
          failed.push(r.name);
          this.logger.error({ err, resource: r.name }, 'close failed; closing the rest');
        } finally {
          clearTimeout(timer);
        }
      }
      return failed;
    })());
  }
}

/** The one line a failed start prints: code and message (secrets masked), never a stack. */
export function startupLine(service: string, err: unknown): string {
  const what = isVigilError(err)
    ? `${err.code}: ${err.message}`
    : err instanceof Error
      ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`
      : String(err);
  return `vigil ${service}: cannot start: ${maskSecrets(what).replace(/\s*\n\s*/g, '; ')}`;
}

export function startupExitCode(err: unknown): number {
  return isVigilError(err) ? exitCodeFor(err.code) : 1;
}

export interface Started {
  /** Settles when the service failed for good while running; the process then exits 1. */
  fatal?: Promise<Error>;
}

/**
 * Runs a service until SIGTERM/SIGINT (exit 0, or 1 if a close failed) or a fatal error (exit 1).
 * A start-up failure rolls back what was opened and gives 2 (configuration) or 1 (anything else).
 * A second signal exits at once.
 */
export async function runService(service: string, logger: Logger, start: (ctx: ServiceContext) => Promise<Started>): Promise<number> {
  const ctx = new ServiceContext(logger);
  let started: Started;
  try {
    started = await start(ctx);
  } catch (err) {
    await ctx.close();
    process.stderr.write(`${startupLine(service, err)}\n`);
    return startupExitCode(err);
  }
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  let signals = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    onSignal(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  const outcome = await Promise.race([signalled.then(() => undefined), (started.fatal ?? new Promise<never>(() => undefined)).then((err) => err)]);
  if (outcome) {
    logger.fatal({ err: outcome }, `${service} failed; stopping`);
    process.stderr.write(`vigil ${service}: stopped: ${maskSecrets(isVigilError(outcome) ? `${outcome.code}: ${outcome.message}` : outcome.message)}\n`);
  } else logger.info('stopping: finishing work in flight');
  const failed = await ctx.close();
  process.off('SIGTERM', handler);
  process.off('SIGINT', handler);
  logger.info({ failedToClose: failed }, 'stopped');
  return outcome || failed.length ? 1 : 0;
}

/** For entry points: turns anything thrown before the service runs (e.g. config) into one line. */
export async function runEntryPoint(service: string, main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (err) {
    process.stderr.write(`${startupLine(service, err)}\n`);
    process.exitCode = startupExitCode(err);
  }
  exitSoon();
}

/**
 * Everything was closed (or gave up closing); a library timer still reconnecting to a dead Redis must
 * not keep the process alive, or its supervisor never sees the exit code.
 */
export function exitSoon(afterMs = 2000): void {
  setTimeout(() => process.exit(), afterMs).unref();
}
