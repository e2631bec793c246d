import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createMetrics } from '../../adapters/metrics.js';
import { closeRedis, createRedis, waitForRedis } from '../../adapters/bullmq/connection.js';
import { createLogger } from '../../logger.js';
import { redisCheck } from '../../ops/checks.js';
import { startProcessOps } from '../../ops/from-config.js';
import { runService } from '../../services/context.js';
import { configOverrides, parseIntOption, withConfigOptions } from '../io.js';

/** `vigil ops` listens here when neither --port nor VIGIL_OPS_PORT says otherwise. */
export const DEFAULT_OPS_PORT = 9465;

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('ops')
      .description('Run the ops server on its own: queue dashboard (Bull Board) at /dashboard, /metrics with queue depths, /healthz, /readyz.')
      .option('--port <n>', `port (env VIGIL_OPS_PORT; default ${DEFAULT_OPS_PORT})`, parseIntOption('--port', 1, 65535))
      .option('--host <addr>', 'address to listen on (env VIGIL_OPS_HOST; default 127.0.0.1)')
      .option('--no-dashboard', 'serve health and metrics only'),
    ['redis'],
  )
    .addHelpText(
      'after',
      `
The dashboard shows the scan, moderation and dead-letter queues; ops can inspect, retry, promote and
clean jobs there. Scan jobs are shown with their ids and the shape of their content only (text and
media bytes redacted). Every action is written to the audit log (actor, action, target, time).
The dashboard needs VIGIL_OPS_TOKEN (no default; it refuses to start without one). Log in with any
user name (recorded as the actor) and the token as password, or send \`Authorization: Bearer <token>\`.
/metrics and the health endpoints are open unless VIGIL_OPS_PUBLIC says otherwise (health, none).

Examples:
  export VIGIL_OPS_TOKEN=$(openssl rand -hex 32)
  npx vigil ops                                  # then open http://127.0.0.1:${DEFAULT_OPS_PORT}/dashboard
  npx vigil ops --port 8080 --host 0.0.0.0 --redis-url redis://10.0.0.5:6379
  curl -H "Authorization: Bearer $VIGIL_OPS_TOKEN" http://127.0.0.1:${DEFAULT_OPS_PORT}/dashboard/api/queues`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: { ...configOverrides(opts), opsHost: opts.host } });
      const logger = createLogger(config.logLevel);
      const dashboard = opts.dashboard !== false;
      process.exitCode = await runService('ops', logger, async (ctx) => {
        const redis = await ctx.open('redis', () => createRedis(config.redisUrl, 'worker', { cluster: config.redisCluster }), closeRedis);
        await waitForRedis(redis, config.redisConnectTimeoutMs, config.redisUrl);
        const port = (opts.port as number | undefined) ?? (config.opsPort || DEFAULT_OPS_PORT);
        const server = await startProcessOps(config, { metrics: createMetrics(), redis, logger, checks: [redisCheck(redis)], port, dashboard });
        if (server) ctx.use('ops server', server);
        process.stderr.write(
          `vigil ops: listening on http://${config.opsHost ?? config.metricsHost}:${server?.port ?? port}${dashboard ? ' (dashboard at /dashboard)' : ''}\n`,
        );
        return {};
      });
    });
}
