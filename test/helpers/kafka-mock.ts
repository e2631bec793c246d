/**
 * librdkafka's mock cluster, started through Debian's `kcat`: a real Kafka-protocol broker set on
 * loopback, with topics auto-created (4 partitions). It does not support admin createTopics or
 * idempotent producers, which is why nothing in Vigil requires them.
 *
 *   const kafka = await startKafkaMock();   // kafka.brokers: ['127.0.0.1:PORT', …]
 *   afterAll(() => kafka.stop());
 */
import { spawn } from 'node:child_process';

export interface KafkaMock {
  brokers: string[];
  /** Kills kcat (and with it the cluster). Idempotent. */
  stop(): Promise<void>;
}

/**
 * librdkafka announces the mock cluster at notice level ("…replaced with HOST:PORT,…") and, with
 * `-d mock`, at debug level ("bootstrap.servers=…"). Debug is not enabled: it logs every request,
 * which costs CPU under load and floods the pipe.
 */
const BOOTSTRAP = /(?:bootstrap\.servers=|replaced with )(\S+)/;

export async function startKafkaMock(options: { brokers?: number; timeoutMs?: number } = {}): Promise<KafkaMock> {
  const args = ['-q', '-X', `test.mock.num.brokers=${options.brokers ?? 3}`, '-C', '-t', '__keepalive', '-o', 'end', '-b', 'dummy:9092'];
  // kcat runs under a shell that waits on our stdin pipe: when this process dies, even by SIGKILL, the
  // pipe closes and the shell kills kcat, so no orphan cluster outlives a crashed test run.
  const child = spawn(
    'sh',
    ['-c', 'kcat "$@" & pid=$!; trap \'kill $pid 2>/dev/null; exit 0\' TERM INT; read -r _ || true; kill $pid 2>/dev/null; wait $pid', 'kcat-mock', ...args],
    {
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  let exited = child.exitCode !== null;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Closing stdin makes the shell stop kcat; SIGTERM (trapped: it stops kcat too) is the fallback.
      if (!exited) child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGTERM'), 2000);
      await exit;
      clearTimeout(timer);
    })());

  let stderr = '';
  try {
    const brokers = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`kcat did not announce the mock cluster within ${options.timeoutMs ?? 10_000} ms; stderr: ${stderr.slice(-500)}`)),
        options.timeoutMs ?? 10_000,
      );
      child.once('error', (err) => (clearTimeout(timer), reject(new Error(`cannot start sh (${(err as NodeJS.ErrnoException).code ?? err.message})`))));
      child.once(
        'exit',
        (code) => (
          clearTimeout(timer),
          reject(new Error(`kcat exited with ${code}${code === 127 ? ' (not installed? apt-get install kcat)' : ''}; stderr: ${stderr.slice(-500)}`))
        ),
      );
      // The pipe is drained for the whole life of kcat: a full pipe would block the cluster.
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        if (stderr.length < 64 * 1024) stderr += chunk;
        const m = BOOTSTRAP.exec(stderr);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1].split(','));
        }
      });
    });
    // Network tests only ever target loopback.
    const notLoopback = brokers.find((b) => !b.startsWith('127.0.0.1:'));
    if (notLoopback !== undefined) throw new Error(`mock broker ${notLoopback} is not on loopback`);
    return { brokers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
