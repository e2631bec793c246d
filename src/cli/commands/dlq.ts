import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ERROR_CODES } from '../../core/errors.js';
import type { DeadLetter } from '../../core/ports.js';
import { defaultActor, withOpsContext } from '../../ops/cli-context.js';
import { DeadLetterTool, parseSince, type DeadLetterEntry, type DeadLetterFilter } from '../../ops/dead-letters.js';
import { configOverrides, parseIntOption, printErr, printJson, UsageError, withConfigOptions } from '../io.js';

function where(d: DeadLetter): string {
  const o = d.origin;
  return o.kind === 'bullmq' ? `${o.queue}/${o.jobId}` : o.kind === 'kafka' ? `${o.topic}[${o.partition}]@${o.offset}` : `${o.file}:${o.line}`;
}

function printEntry({ id, entry: d }: DeadLetterEntry): void {
  process.stdout.write(
    `${d.at}  ${d.code.padEnd(22)} ${(d.eventId ?? '-').padEnd(24)} ${d.mediaId ? `media ${d.mediaId}  ` : ''}${where(d)}  ${id}  ${d.message}\n`,
  );
}

function filterOf(opts: Record<string, unknown>): DeadLetterFilter {
  return { code: opts.code as string | undefined, since: opts.since ? parseSince(String(opts.since)) : undefined, limit: opts.limit as number | undefined };
}

/** Commands that change state take ids, or a filter, or --all: never everything by accident. */
async function selected(tool: DeadLetterTool, ids: string[], opts: Record<string, unknown>): Promise<string[]> {
  if (ids.length) {
    if (opts.code || opts.since || opts.all) throw new UsageError('give entry ids or a filter (--code, --since, --all), not both');
    return ids;
  }
  if (!opts.code && !opts.since && !opts.all) throw new UsageError('say which entries: ids, --code C, --since T, or --all');
  return (await tool.list(filterOf(opts))).map((e) => e.id);
}

/** A misspelt code would silently match nothing: refuse it, naming the codes there are. */
function parseCode(value: string): string {
  if (!(value in ERROR_CODES)) throw new UsageError(`--code must be one of ${Object.keys(ERROR_CODES).join(', ')}; got "${value}"`);
  return value;
}

const listOptions = (cmd: Command) =>
  cmd
    .option('--code <code>', 'only this error code, e.g. MEDIA_UNDECODABLE', parseCode)
    .option('--since <time>', 'only entries written since: ISO time, or a span back from now (30m, 6h, 2d)')
    .option('--json', 'one JSON object per line');

async function list(opts: Record<string, unknown>): Promise<void> {
  const config = loadConfig({ overrides: configOverrides(opts) });
  await withOpsContext(config, async (ctx) => {
    const tool = new DeadLetterTool({ deadLetters: ctx.deadLetters, scan: ctx.scan, audit: ctx.audit, failedRetentionS: config.failedRetentionS });
    for (const e of await tool.list(filterOf(opts))) {
      if (opts.json) printJson({ id: e.id, ...e.entry });
      else printEntry(e);
    }
  });
}

export function register(program: Command): Command {
  const dlq = program
    .command('dlq')
    .description('Dead-letter queue: list and show entries (ids and typed reason, never content), retry the events that were kept, purge entries.')
    .addHelpText(
      'after',
      `
An entry keeps ids and the reason only. The event itself is kept only when a retriable failure (Redis
or the media store down) exhausted its attempts: it then waits in the scan queue's failed set for
VIGIL_FAILED_RETENTION_S, and \`dlq retry\` re-enqueues it. For every other entry retry says why it
cannot (non-retriable codes would fail the same way; the Kafka bridge keeps no copy). Retry and purge
are written to the audit log (actor, action, entry and event ids, time).

Examples:
  npx vigil dlq list --since 1h
  npx vigil dlq list --code MEDIA_UNDECODABLE --json
  npx vigil dlq show dl_0123abcd...
  npx vigil dlq retry --code RETRIES_EXHAUSTED --dry-run
  npx vigil dlq retry --code RETRIES_EXHAUSTED --actor alice
  npx vigil dlq purge --code EVENT_INVALID --since 7d`,
    );
  addList(dlq, 'list', 'List entries, newest first: time, code, event id, media id, origin, entry id, reason.', 'dlq list');
  withConfigOptions(
    dlq
      .command('show')
      .description('One entry in full, and whether its event can be retried (or why not).')
      .argument('<id>', 'entry id (dl_…), as `dlq list` prints it')
      .option('--json', 'one JSON object'),
    ['redis'],
  )
    .addHelpText(
      'after',
      '\nExamples:\n  npx vigil dlq show dl_61c38ae38130a707dc14dd1341d72ae3\n  npx vigil dlq show dl_61c38ae38130a707dc14dd1341d72ae3 --json',
    )
    .action(async (id: string, opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: configOverrides(opts) });
      await withOpsContext(config, async (ctx) => {
        const tool = new DeadLetterTool({ deadLetters: ctx.deadLetters, scan: ctx.scan, audit: ctx.audit, failedRetentionS: config.failedRetentionS });
        const shown = await tool.show(id);
        if (!shown) {
          printErr(`vigil: no dead-letter entry ${id}`);
          process.exitCode = 1;
          return;
        }
        if (opts.json) printJson({ id, ...shown.entry, retry: shown.retry });
        else {
          printEntry(shown);
          process.stdout.write(
            shown.retry.status === 'would_requeue'
              ? `retry: possible (the event is kept as scan job ${shown.retry.scanJobId})\n`
              : `retry: not possible: ${'reason' in shown.retry ? shown.retry.reason : ''}\n`,
          );
        }
      });
    });
  for (const action of ['retry', 'purge'] as const) {
    withConfigOptions(
      listOptions(
        dlq
          .command(action)
          .description(
            action === 'retry'
              ? 'Re-enqueue the kept events of these entries (attempts reset) and remove the entries; say why for the rest.'
              : 'Remove these entries (a kept event stays in the failed set until its retention ends).',
          )
          .argument('[ids...]', 'entry ids; or select with --code / --since / --all'),
      )
        .option('--all', 'every entry')
        .option('--dry-run', 'say what would happen, change nothing')
        .option('--actor <name>', 'who you are, for the audit log (default: user@host)'),
      ['redis'],
    )
      .addHelpText(
        'after',
        action === 'retry'
          ? '\nExit code 1 when some entry could not be retried (each says why).\n\nExamples:\n  npx vigil dlq retry dl_61c38ae38130a707dc14dd1341d72ae3\n  npx vigil dlq retry --code RETRIES_EXHAUSTED --since 2h --dry-run\n  npx vigil dlq retry --all --json --actor alice'
          : '\nExamples:\n  npx vigil dlq purge dl_61c38ae38130a707dc14dd1341d72ae3\n  npx vigil dlq purge --code EVENT_INVALID --since 7d --dry-run\n  npx vigil dlq purge --all --actor alice',
      )
      .action(async (ids: string[], opts: Record<string, unknown>) => {
        const config = loadConfig({ overrides: configOverrides(opts) });
        const actor = (opts.actor as string | undefined) ?? defaultActor();
        await withOpsContext(config, async (ctx) => {
          const tool = new DeadLetterTool({ deadLetters: ctx.deadLetters, scan: ctx.scan, audit: ctx.audit, failedRetentionS: config.failedRetentionS });
          const chosen = await selected(tool, ids, opts);
          const dryRun = opts.dryRun === true;
          if (action === 'retry') {
            const outcomes = await tool.retry(chosen, actor, { dryRun });
            for (const r of outcomes) {
              if (opts.json) printJson(r);
              else
                process.stdout.write(
                  `${r.id}  ${(r.eventId ?? '-').padEnd(24)} ${r.status}${'reason' in r ? `: ${r.reason}` : ` (scan job ${r.scanJobId})`}\n`,
                );
            }
            if (!opts.json)
              printErr(
                `${outcomes.filter((r) => r.status === 'requeued' || r.status === 'would_requeue').length} of ${outcomes.length} ${dryRun ? 'would be ' : ''}re-enqueued`,
              );
            if (outcomes.some((r) => r.status !== 'requeued' && r.status !== 'would_requeue')) process.exitCode = 1;
          } else {
            const { removed, missing } = await tool.purge(chosen, actor, { dryRun });
            if (opts.json) printJson({ removed, missing, dryRun });
            else
              printErr(
                `${removed.length} entr${removed.length === 1 ? 'y' : 'ies'} ${dryRun ? 'would be ' : ''}removed${missing.length ? `; not found: ${missing.join(', ')}` : ''}`,
              );
            if (missing.length) process.exitCode = 1;
          }
        });
      });
  }
  return dlq;
}

/** `dlq list`, and `dead-letters`, its old name, kept so scripts written against it still work. */
function addList(parent: Command, name: string, description: string, example: string): Command {
  return withConfigOptions(
    listOptions(
      parent
        .command(name)
        .description(description)
        .option('--limit <n>', 'at most this many', parseIntOption('--limit', 1, 1_000_000), 50),
    ),
    ['redis'],
  )
    .addHelpText('after', `\nExamples:\n  npx vigil ${example} --since 6h\n  npx vigil ${example} --code EVENT_INVALID --limit 500 --json`)
    .action(async (opts: Record<string, unknown>) => list(opts));
}

export function registerDeadLetters(program: Command): Command {
  return addList(
    program,
    'dead-letters',
    'Dead-letter entries, newest first (the old name of `vigil dlq list`; see `vigil dlq --help` for retry and purge).',
    'dead-letters',
  );
}
