/**
 * A throwaway Redis Cluster of our own: 3 masters and 3 replicas, each a `redis-server
 * --cluster-enabled yes` on a free loopback port (never 6379), joined with `redis-cli --cluster
 * create`. No persistence; every process started and stopped by pid; node files in a temp folder.
 *
 *   const cluster = await startRedisCluster();  // cluster.url: redis://127.0.0.1:P1,redis://127.0.0.1:P2,…
 *   await cluster.masterOfKey('{vigil-s0}:x');   // the master (host:port) that owns the key's slot
 *   await cluster.migrateSlot(slot, toMaster);   // moves a slot (and its keys) while clients run
 *   await cluster.failover(master);              // CLUSTER FAILOVER on one of its replicas
 *   await cluster.stop();
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

export interface ClusterNodeInfo {
  id: string;
  addr: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica: the id of its master. */
  masterId?: string;
  /** Slot ranges a master serves. */
  slots: [number, number][];
}

export interface RedisCluster {
  /** Seed URLs of every node, comma-separated (the form REDIS_URL takes in cluster mode). */
  url: string;
  ports: number[];
  /** CLUSTER NODES as seen from a live node. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** host:port of the master serving `key`'s slot (CLUSTER SLOTS). */
  masterOfKey(key: string): Promise<string>;
  keySlot(key: string): Promise<number>;
  /** host:port of every master. */
  masters(): Promise<string[]>;
  /** Moves `slot` with its keys to master `to` (host:port): SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE. */
  migrateSlot(slot: number, to: string): Promise<void>;
  /** Promotes a replica of `master` (host:port) with CLUSTER FAILOVER; resolves once it serves as master. Returns it. */
  failover(master: string): Promise<string>;
  /** Kills every node (SIGKILL) and removes the node files. Idempotent. */
  stop(): Promise<void>;
}

/** A cluster bus listens on port + 10000: both must be free and below 65536. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    if (port + 10000 > 65535 || taken.has(port) || taken.has(port + 10000)) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 10000, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
  throw new Error('no free port pair (port, port + 10000) for a cluster node');
}

function client(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: true });
  c.on('error', () => undefined);
  return c;
}

async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.split(' ');
      const hostPort = (addr ?? '').split('@')[0] ?? '';
      const isMaster = (flags ?? '').split(',').includes('master');
      return {
        id: id ?? '',
        addr: hostPort,
        port: Number(hostPort.split(':')[1]),
        role: isMaster ? ('master' as const) : ('replica' as const),
        ...(isMaster ? {} : { masterId: master }),
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [a, b] = s.split('-');
            return [Number(a), Number(b ?? a)] as [number, number];
          }),
      };
    });
}

export async function startRedisCluster(options: { timeoutMs?: number } = {}): Promise<RedisCluster> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) {
    const p = await freeClusterPort(taken);
    taken.add(p).add(p + 10000);
    ports.push(p);
  }
  const children: ChildProcess[] = [];
  const exits: Promise<void>[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '3000',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          // A master waits 5 s (the default) for more replicas before a diskless full sync; a replica
          // promoted in that window is empty, and a failover then loses everything its master held.
          '--repl-diskless-sync-delay',
          '0',
          '--daemonize',
          'no',
        ],
        { stdio: 'ignore' },
      );
      child.once('error', () => undefined);
      children.push(child);
      exits.push(new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve()))));
    }
    await Promise.all(
      ports.map((port) =>
        poll(
          `redis-server on ${port}`,
          async () => {
            const c = client(port);
            try {
              return (await c.ping()) === 'PONG' ? true : undefined;
            } finally {
              c.disconnect();
            }
          },
          timeoutMs,
        ),
      ),
    );
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: timeoutMs });
    await Promise.all(
      ports.map((port) =>
        poll(
          `cluster_state:ok on ${port}`,
          async () => {
            const c = client(port);
            try {
              if (!/cluster_state:ok/.test(String(await c.cluster('INFO')))) return undefined;
              // Every node must also know the final roles (replicas are attached after the slots are).
              const view = parseClusterNodes(String(await c.cluster('NODES')));
              const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0);
              if (!(masters.length === 3 && masters.every((m) => view.some((n) => n.masterId === m.id)))) return undefined;
              // A replica counts once its first sync is done: only then does CLUSTER FAILOVER keep the data.
              const replication = String(await c.info('replication'));
              return /role:master/.test(replication) || (/master_link_status:up/.test(replication) && /master_sync_in_progress:0/.test(replication))
                ? true
                : undefined;
            } finally {
              c.disconnect();
            }
          },
          timeoutMs,
        ),
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const onAny = async <T>(work: (c: Redis) => Promise<T>): Promise<T> => {
    let last: unknown;
    for (const port of ports) {
      const c = client(port);
      try {
        return await work(c);
      } catch (err) {
        last = err;
      } finally {
        c.disconnect();
      }
    }
    throw last instanceof Error ? last : new Error('no cluster node answered');
  };
  const onNode = async <T>(addr: string, work: (c: Redis) => Promise<T>): Promise<T> => {
    const c = client(Number(addr.split(':')[1]));
    try {
      return await work(c);
    } finally {
      c.disconnect();
    }
  };
  const nodes = () => onAny(async (c) => parseClusterNodes(String(await c.cluster('NODES'))));
  const keySlot = (key: string) => onAny(async (c) => Number(await c.cluster('KEYSLOT', key)));
  const masterOfSlot = async (slot: number): Promise<string> => {
    const m = (await nodes()).find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!m) throw new Error(`no master serves slot ${slot}`);
    return m.addr;
  };

  return {
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    ports,
    nodes,
    keySlot,
    masterOfKey: async (key) => masterOfSlot(await keySlot(key)),
    masters: async () =>
      (await nodes())
        .filter((n) => n.role === 'master' && n.slots.length > 0)
        .map((n) => n.addr)
        .sort(),
    async migrateSlot(slot, to) {
      const all = await nodes();
      const from = await masterOfSlot(slot);
      if (from === to) return;
      const src = all.find((n) => n.addr === from)!;
      const dst = all.find((n) => n.addr === to)!;
      await onNode(to, (c) => c.cluster('SETSLOT', slot, 'IMPORTING', src.id));
      await onNode(from, (c) => c.cluster('SETSLOT', slot, 'MIGRATING', dst.id));
      await onNode(from, async (c) => {
        for (;;) {
          const keys = await c.cluster('GETKEYSINSLOT', slot, 100);
          if (keys.length === 0) break;
          const migrate = (...replace: string[]) => c.call('MIGRATE', '127.0.0.1', String(dst.port), '', '0', '5000', ...replace, 'KEYS', ...keys);
          // A key written while the slot moves can already exist on the target (a multi-key script
          // redirected there with ASK): take the source's copy over it, as
          // `redis-cli --cluster reshard --cluster-replace` does.
          await migrate().catch((err: unknown) => {
            if (err instanceof Error && err.message.includes('BUSYKEY')) return migrate('REPLACE');
            throw err;
          });
        }
      });
      // The new owner first, then the old one, then every other master (as redis-cli --cluster reshard does).
      for (const addr of [to, from, ...all.filter((n) => n.role === 'master' && n.addr !== to && n.addr !== from).map((n) => n.addr)])
        await onNode(addr, (c) => c.cluster('SETSLOT', slot, 'NODE', dst.id)).catch(() => undefined);
      await poll(`slot ${slot} served by ${to} everywhere`, async () => ((await masterOfSlot(slot)) === to ? true : undefined), timeoutMs);
    },
    async failover(master) {
      const all = await nodes();
      const m = all.find((n) => n.addr === master);
      const replica = all.find((n) => n.role === 'replica' && n.masterId === m?.id);
      if (!m || !replica) throw new Error(`no replica of ${master}`);
      // CLUSTER FAILOVER waits for the replica to catch up only over a live replication link.
      await poll(
        `${replica.addr} replicating from ${master}`,
        async () => (/master_link_status:up/.test(await onNode(replica.addr, (c) => c.info('replication'))) ? true : undefined),
        timeoutMs,
      );
      await onNode(replica.addr, (c) => c.cluster('FAILOVER'));
      await poll(
        `${replica.addr} promoted to master`,
        async () => {
          // Promoted in the view of every node (gossip spreads the new epoch within a second or so).
          for (const port of ports) {
            const view = await onNode(`127.0.0.1:${port}`, async (c) => parseClusterNodes(String(await c.cluster('NODES'))));
            const self = view.find((n) => n.addr === replica.addr);
            if (self?.role !== 'master' || self.slots.length === 0) return undefined;
          }
          return true;
        },
        timeoutMs,
      );
      return replica.addr;
    },
    stop,
  };
}
