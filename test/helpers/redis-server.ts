/**
 * A throwaway `redis-server` of our own on a free loopback port, for tests that kill or restart
 * Redis (the shared one on 6379 is never touched). Started and stopped by pid; no persistence, so a
 * restart comes back empty, as a queue Redis run without persistence does.
 *
 *   const server = await startRedisServer();   // server.url: redis://127.0.0.1:PORT
 *   await server.restart();                     // SIGKILL, then a fresh empty server on the same port
 *   await server.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: no chance to save anything) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty); resolves once it answers PING. */
  start(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${url} did not answer within ${timeoutMs} ms`, { cause: err });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

export async function startRedisServer(options: { args?: string[] } = {}): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...(options.args ?? [])],
      { stdio: 'ignore' },
    );
    child = proc;
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.once('error', () => undefined);
    await waitForPing(url, 10_000);
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    port,
    kill,
    start,
    restart: async () => {
      await kill();
      await start();
    },
    stop: kill,
  };
}
