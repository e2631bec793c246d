/**
 * What the scan worker does around `decide` when the policy store is in use: hands `decide` the
 * brakes snapshot, and after the flags are emitted counts hits (quarantining floods) and records
 * shadow comparisons. Nothing here changes a decision already made.
 */
import type { DecisionHooks } from '../core/policy-source.js';
import type { PipelineResult } from '../core/pipeline.js';
import type { Logger } from '../logger.js';
import type { RedisBrakes } from './brakes.js';
import type { Metrics } from './metrics.js';
import type { RedisShadowLog } from './shadow-log.js';

export interface RefreshingDecisionHooks extends DecisionHooks {
  /** Re-reads quarantines, deconfirmations and action counts (called on every reload poll). */
  refresh(): Promise<void>;
}

export function createDecisionHooks(parts: {
  brakes: RedisBrakes;
  shadowLog: RedisShadowLog;
  logger: Logger;
  metrics?: Metrics | undefined;
}): RefreshingDecisionHooks {
  const { brakes, shadowLog, logger, metrics } = parts;
  return {
    counters: () => brakes.counters(),
    refresh: async () => {
      await brakes.refresh();
    },
    after: async (result: PipelineResult) => {
      for (const f of result.flags) for (const code of f.brake?.codes ?? []) metrics?.brakeApplied.inc({ brake: code });
      const floods = await brakes.record(result.verdict, result.policy);
      for (const f of floods) {
        const kind = f.key.startsWith('rule:') ? 'rule' : 'entry';
        metrics?.brakeQuarantines.inc({ kind });
        logger.error(
          { brake: f.key, hourCount: f.hourCount, baseline: f.baseline },
          `false-positive brake: ${kind} quarantined to review-only (hit rate far above baseline); release with \`vigil policy release\``,
        );
      }
      if (result.shadow.length) {
        await shadowLog.record(result.event.eventId, result.shadow, { live: result.policy.version, candidate: result.candidate?.version });
        for (const c of result.shadow) metrics?.shadowComparisons.inc({ source: c.source, outcome: c.agree ? 'agree' : 'disagree' });
      }
    },
  };
}
