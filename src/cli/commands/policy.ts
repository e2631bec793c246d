/**
 * `vigil policy`: validate a policy file, and manage the versioned policy store in Redis (apply, diff,
 * history, rollback, show, shadow, shadow-report, brakes). Every change is audited (`vigil audit`).
 */
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { loadConfig } from '../../config.js';
import { toVigilError } from '../../core/errors.js';
import { waitForRedis, type RedisClient } from '../../adapters/bullmq/connection.js';
import { openBankStoreRedis } from '../../adapters/bank-redis.js';
import { loadPolicyFile, parsePolicyText, readPolicyText } from '../../adapters/policy-file.js';
import type { Policy } from '../../core/policy.js';
import { describeDiff, RedisPolicyStore } from '../../adapters/policy-store.js';
import { RedisBrakes } from '../../adapters/brakes.js';
import { RedisShadowLog } from '../../adapters/shadow-log.js';
import { configOverrides, parseIntOption, printErr, printJson, UsageError, withConfigOptions } from '../io.js';

/** Runs `work` with the bank-store Redis (where policy versions, brakes and the audit log live). */
export async function withBankStore<T>(opts: Record<string, unknown>, work: (redis: RedisClient, prefix: string) => Promise<T>): Promise<T> {
  const config = loadConfig({ overrides: configOverrides(opts) });
  const redis = openBankStoreRedis(config, 'producer');
  try {
    await waitForRedis(redis, 5000);
    return await work(redis, config.queuePrefix);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

export function actorOf(opts: Record<string, unknown>): string {
  if (typeof opts.actor === 'string' && opts.actor.trim()) return opts.actor.trim();
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

export function requireReason(opts: Record<string, unknown>): string {
  const r = typeof opts.reason === 'string' ? opts.reason.trim() : '';
  if (!r) throw new UsageError('--reason "…" is required: it goes to the audit log');
  if (r.length > 500) throw new UsageError('--reason is at most 500 characters');
  return r;
}

const reasonOpts = <T extends Command>(cmd: T): T =>
  withConfigOptions(cmd.requiredOption('--reason <text>', 'why (recorded in the audit log)').option('--actor <name>', 'who (default: the OS user name)'), [
    'redis',
  ]);

/** The file policy workers use while the store has no live version (undefined if it cannot be read). */
async function filePolicy(opts: Record<string, unknown>): Promise<Policy | undefined> {
  try {
    return await loadPolicyFile(loadConfig({ overrides: configOverrides(opts) }).policyFile);
  } catch {
    return undefined;
  }
}

function pct(n: number | null): string {
  return n === null ? '—' : `${(n * 100).toFixed(1)}%`;
}

async function validateFile(file: string): Promise<{ ok: true; version: string; format: 1 | 2; rules: number } | { ok: false; code: string; message: string }> {
  try {
    const p = parsePolicyText(await readPolicyText(file), `policy file ${file}`);
    return { ok: true, version: p.version, format: p.sourceFormat, rules: p.document.rules.length };
  } catch (err) {
    const e = toVigilError(err);
    return { ok: false, code: e.code, message: e.message };
  }
}

export function register(program: Command): Command {
  const policy = program
    .command('policy')
    .description('Validate policy files; apply, diff, roll back and shadow-test policies in the policy store.')
    .addHelpText(
      'after',
      `
The policy decides which signals become flags (docs/policy.md). Workers read the live version from the
policy store (Redis, VIGIL_BANK_REDIS_URL) and swap to a new one within VIGIL_BANK_RELOAD_MS; with an
empty store they use the file VIGIL_POLICY_FILE. Every change is audited: \`vigil audit\`.

Examples:
  npx vigil policy validate config/policy.yaml
  npx vigil policy diff new-policy.yaml
  npx vigil policy apply new-policy.yaml --reason "lower PDQ radius for partner banks" --actor alice
  npx vigil policy history
  npx vigil policy rollback 3 --reason "v4 floods the review queue"
  npx vigil policy shadow candidate.yaml --reason "try the stricter grooming rules"
  npx vigil policy shadow-report`,
    );

  policy
    .command('validate')
    .description('Check a policy file: exit 0 and its version if valid, else exit 1 with every error by key path.')
    .argument('<file>', 'policy YAML')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  npx vigil policy validate config/policy.yaml\n  npx vigil policy validate draft.yaml --json')
    .action(async (file: string, opts: { json?: boolean }) => {
      const r = await validateFile(file);
      if (opts.json) printJson(r);
      else if (r.ok)
        process.stdout.write(`${file}: valid (format ${r.format}${r.format === 1 ? ', read as version 2' : ''}, ${r.rules} rule(s), version ${r.version})\n`);
      else printErr(r.message);
      if (!r.ok) process.exitCode = 1;
    });

  reasonOpts(
    policy
      .command('apply')
      .description('Validate a policy file and make it the live version; refused (exit 2) if invalid, and the old one stays live.')
      .argument('<file>', 'policy YAML')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        '\nExamples:\n  npx vigil policy apply config/policy.yaml --reason "initial policy"\n  npx vigil policy apply next.yaml --reason "ticket SAFE-42" --actor alice',
      ),
  ).action(async (file: string, opts: Record<string, unknown>) => {
    const reason = requireReason(opts);
    const source = await readPolicyText(file);
    parsePolicyText(source, `policy file ${file}`); // refuse before touching Redis
    const fallback = await filePolicy(opts);
    const r = await withBankStore(opts, (redis, prefix) =>
      new RedisPolicyStore(redis, prefix).apply(source, {
        actor: actorOf(opts),
        reason,
        origin: `policy file ${file}`,
        ...(fallback ? { filePolicy: fallback } : {}),
      }),
    );
    if (opts.json)
      printJson({ changed: r.changed, version: r.record.version, hash: r.record.hash, before: r.before ?? null, diff: r.diff ? r.diff.split('\n') : [] });
    else if (!r.changed) printErr(`unchanged: v${r.record.version} (${r.record.hash}) is already live with this content`);
    else
      printErr(`v${r.record.version} (${r.record.hash}) is live${r.before ? `, was v${r.before}` : ''}; workers switch within VIGIL_BANK_RELOAD_MS\n${r.diff}`);
  });

  withConfigOptions(
    policy
      .command('diff')
      .description('What applying a policy file would change against the live version, key by key (rules by id).')
      .argument('<file>', 'policy YAML')
      .option('--json', 'one JSON array of change lines')
      .addHelpText(
        'after',
        '\nLines: "+ key: value" added, "- key: value" removed, "~ key: old → new" changed.\n\nExamples:\n  npx vigil policy diff next.yaml',
      ),
    ['redis'],
  ).action(async (file: string, opts: Record<string, unknown>) => {
    const next = parsePolicyText(await readPolicyText(file), `policy file ${file}`);
    const diff = await withBankStore(opts, async (redis, prefix) => {
      const store = new RedisPolicyStore(redis, prefix);
      const live = await store.live();
      if (live) return describeDiff(store.compileRecord(live), next);
      const fallback = await filePolicy(opts);
      return fallback
        ? `against the file policy (${fallback.version}); the store has no live version:\n${describeDiff(fallback, next) || 'no changes'}`
        : describeDiff(undefined, next);
    });
    if (opts.json) printJson(diff ? diff.split('\n') : []);
    else process.stdout.write(diff ? `${diff}\n` : 'no changes\n');
  });

  withConfigOptions(
    policy
      .command('history')
      .description('Every policy version in the store: number, hash, time, actor, reason; * marks the live one.')
      .option('--json', 'one JSON object per version (without the YAML text)')
      .addHelpText('after', '\nExamples:\n  npx vigil policy history\n  npx vigil policy history --json'),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const { versions, live } = await withBankStore(opts, async (redis, prefix) => {
      const store = new RedisPolicyStore(redis, prefix);
      return { versions: await store.history(), live: await store.liveVersion() };
    });
    if (opts.json)
      for (const v of versions)
        printJson({ version: v.version, hash: v.hash, appliedAt: v.appliedAt, actor: v.actor, reason: v.reason, live: v.version === live });
    else if (versions.length === 0) printErr('no policy versions in the store: workers use VIGIL_POLICY_FILE (`vigil policy apply --help`)');
    else
      for (const v of versions)
        process.stdout.write(`${v.version === live ? '*' : ' '} v${String(v.version).padEnd(4)} ${v.hash}  ${v.appliedAt}  ${v.actor}  ${v.reason}\n`);
  });

  reasonOpts(
    policy
      .command('rollback')
      .description('Make an earlier version live again (audited); workers switch within seconds.')
      .argument('<version>', 'version number from `vigil policy history`', parseIntOption('VERSION', 1, Number.MAX_SAFE_INTEGER))
      .option('--json', 'print the result as JSON')
      .addHelpText('after', '\nExamples:\n  npx vigil policy rollback 3 --reason "v4 floods the review queue"'),
  ).action(async (version: number, opts: Record<string, unknown>) => {
    const reason = requireReason(opts);
    const r = await withBankStore(opts, (redis, prefix) => new RedisPolicyStore(redis, prefix).rollback(version, { actor: actorOf(opts), reason }));
    if (opts.json) printJson({ version: r.record.version, hash: r.record.hash, before: r.before ?? null, diff: r.diff ? r.diff.split('\n') : [] });
    else printErr(`v${r.record.version} (${r.record.hash}) is live again${r.before ? `, was v${r.before}` : ''}\n${r.diff}`);
  });

  withConfigOptions(
    policy
      .command('show')
      .description('Print the YAML of the live version, or of VERSION.')
      .argument('[version]', 'version number (default: live)', parseIntOption('VERSION', 1, Number.MAX_SAFE_INTEGER))
      .option('--json', 'the version record as JSON, YAML text included')
      .addHelpText('after', '\nExamples:\n  npx vigil policy show\n  npx vigil policy show 2 > v2.yaml'),
    ['redis'],
  ).action(async (version: number | undefined, opts: Record<string, unknown>) => {
    const record = await withBankStore(opts, async (redis, prefix) => {
      const store = new RedisPolicyStore(redis, prefix);
      return version === undefined ? store.live() : store.get(version);
    });
    if (!record)
      throw new UsageError(
        version === undefined ? 'no live policy in the store: workers use VIGIL_POLICY_FILE' : `no policy version ${version} (see \`vigil policy history\`)`,
      );
    if (opts.json) printJson(record);
    else process.stdout.write(record.source.endsWith('\n') ? record.source : `${record.source}\n`);
  });

  reasonOpts(
    policy
      .command('shadow')
      .description('Run a whole candidate policy in shadow beside the live one on every scan (it never flags); --clear stops it.')
      .argument('[file]', 'candidate policy YAML')
      .option('--clear', 'stop shadowing the current candidate')
      .addHelpText(
        'after',
        '\nDisagreements with the live verdict go to the shadow log: `vigil policy shadow-report`.\n\nExamples:\n  npx vigil policy shadow candidate.yaml --reason "stricter PDQ radius"\n  npx vigil policy shadow --clear --reason "done"',
      ),
  ).action(async (file: string | undefined, opts: Record<string, unknown>) => {
    const reason = requireReason(opts);
    if (!file && !opts.clear) throw new UsageError('give a candidate policy FILE, or --clear');
    if (file && opts.clear) throw new UsageError('give either FILE or --clear, not both');
    const source = file ? await readPolicyText(file) : undefined;
    if (source !== undefined) parsePolicyText(source, `policy file ${file}`);
    const r = await withBankStore(opts, (redis, prefix) =>
      new RedisPolicyStore(redis, prefix).setCandidate(source, { actor: actorOf(opts), reason, origin: `policy file ${file}` }),
    );
    printErr(r ? `candidate ${r.hash} runs in shadow on every worker within seconds` : 'shadow candidate cleared');
  });

  withConfigOptions(
    policy
      .command('shadow-report')
      .description('Per shadow rule and candidate rule: would-flag count, agreement with live, example event ids.')
      .option('--all', 'include rules of earlier live and candidate versions')
      .option('--recent <n>', 'also list the latest N disagreements', parseIntOption('--recent', 1, 1000))
      .option('--json', 'JSON output')
      .addHelpText(
        'after',
        "\nAgreement: share of the rule's would-flags on which the live policy flagged the same category with the same action.\n\nExamples:\n  npx vigil policy shadow-report\n  npx vigil policy shadow-report --json --recent 20",
      ),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const out = await withBankStore(opts, async (redis, prefix) => {
      const store = new RedisPolicyStore(redis, prefix);
      const log = new RedisShadowLog(redis, prefix);
      const live = await store.live();
      const candidate = await store.candidate();
      const versions = opts.all ? undefined : [live?.hash, candidate?.hash].filter((v): v is string => v !== undefined);
      return {
        live: live?.hash ?? null,
        candidate: candidate?.hash ?? null,
        rules: await log.report(versions ? { versions } : {}),
        recent: opts.recent ? await log.recent(opts.recent as number) : [],
      };
    });
    if (opts.json) return printJson(out);
    process.stdout.write(`live ${out.live ?? '(file policy)'}; candidate ${out.candidate ?? '(none)'}\n`);
    if (out.rules.length === 0) process.stdout.write('no shadow verdicts yet\n');
    for (const r of out.rules)
      process.stdout.write(
        `${r.source.padEnd(9)} ${r.ruleId.padEnd(28)} would-flag ${String(r.wouldFlag).padStart(7)}  agreement ${pct(r.agreement).padStart(6)}  disagreements ${String(r.disagree).padStart(6)}  e.g. ${r.disagreementExamples.slice(0, 3).join(', ') || '—'}\n`,
      );
    for (const e of out.recent) process.stdout.write(`  ${e.at} ${e.eventId} ${e.source}:${e.ruleId} ${e.category} live=${e.live} shadow=${e.shadow}\n`);
  });

  withConfigOptions(
    policy
      .command('brakes')
      .description("Quarantined rules and bank entries (review-only), today's automated actions per rule, deconfirmed entries.")
      .option('--rate <key>', 'also the hourly hit counts of rule:RULE_ID or entry:BANK/ENTRY over the last 24 hours (oldest first)')
      .option('--json', 'JSON output')
      .addHelpText(
        'after',
        '\nExamples:\n  npx vigil policy brakes\n  npx vigil policy brakes --rate entry:partner-pdq/e-123\n  npx vigil policy release entry:partner-pdq/e-123 --reason "checked: true matches"',
      ),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const rateKey = typeof opts.rate === 'string' ? opts.rate : undefined;
    if (rateKey !== undefined && !/^(rule:[A-Za-z0-9._-]+|entry:[^\s/]+\/\S+)$/.test(rateKey))
      throw new UsageError('--rate takes rule:RULE_ID or entry:BANK/ENTRY');
    const out = await withBankStore(opts, async (redis, prefix) => {
      const brakes = new RedisBrakes(redis, prefix);
      return {
        quarantined: await brakes.quarantined(),
        actionsToday: await brakes.actionsToday(),
        deconfirmed: await brakes.deconfirmed(),
        ...(rateKey ? { hourly: { key: rateKey, counts: await brakes.hourly(rateKey, 24) } } : {}),
      };
    });
    if (opts.json) return printJson(out);
    if (out.hourly) process.stdout.write(`${out.hourly.key} hits per hour, last 24 h (oldest first): ${out.hourly.counts.join(' ')}\n`);
    process.stdout.write(out.quarantined.length ? '' : 'nothing quarantined\n');
    for (const q of out.quarantined)
      process.stdout.write(`quarantined ${q.key}  since ${q.at}  ${q.hourCount} hits/h vs baseline ${q.baseline.toFixed(2)}/h  (by ${q.by})\n`);
    for (const [rule, n] of Object.entries(out.actionsToday)) process.stdout.write(`actions today ${rule}: ${n}\n`);
    for (const d of out.deconfirmed) process.stdout.write(`deconfirmed ${d.bank}/${d.entry}  ${d.at}  ${d.actor}: ${d.reason}\n`);
  });

  reasonOpts(
    policy
      .command('release')
      .description('Lift a quarantine (audited); the flood check then leaves the key alone for 2 hours.')
      .argument('<key>', 'rule:RULE_ID or entry:BANK/ENTRY, as `vigil policy brakes` prints it')
      .addHelpText('after', '\nExamples:\n  npx vigil policy release rule:text --reason "spike was a real campaign"'),
  ).action(async (key: string, opts: Record<string, unknown>) => {
    const reason = requireReason(opts);
    if (!/^(rule:[A-Za-z0-9._-]+|entry:[^\s/]+\/\S+)$/.test(key)) throw new UsageError('KEY is rule:RULE_ID or entry:BANK/ENTRY');
    const released = await withBankStore(opts, (redis, prefix) => new RedisBrakes(redis, prefix).release(key, { actor: actorOf(opts), reason }));
    printErr(released ? `${key} released` : `${key} was not quarantined (recorded anyway)`);
  });

  return policy;
}
