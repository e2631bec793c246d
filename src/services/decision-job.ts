/**
 * Reviewer decisions fed back, free of any transport: parse a `vigil.decision.v1`, count it in the
 * flag ledger (running precision per rule, bank, entry and model label), propose entries rejected
 * too often for deconfirmation. The BullMQ consumer (src/adapters/bullmq/decision-worker.ts) and the
 * Kafka one call it, so both count the same way.
 *
 * A decision that does not parse is dead-lettered (DECISION_INVALID) and acknowledged; one for a
 * flag the ledger does not hold (older than VIGIL_FLAG_RECORD_RETENTION_S, or never emitted here) is
 * counted as `unknown_flag` and acknowledged; a ledger that does not answer is retried.
 */
import type { DeadLetter, DeadLetterSink } from '../core/ports.js';
import { parseDecision } from '../core/decision-contract.js';
import { toVigilError } from '../core/errors.js';
import type { AppliedDecision, RedisFlagLedger } from '../adapters/flag-ledger.js';
import type { Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';

export type DecisionJobResult = { status: 'applied'; applied: AppliedDecision } | { status: 'dead_lettered'; code: string };

export interface DecisionHandlerOptions {
  ledger: Pick<RedisFlagLedger, 'apply'>;
  deadLetters: DeadLetterSink;
  logger: Logger;
  metrics?: Metrics | undefined;
}

export type DecisionHandler = (payload: unknown, origin: DeadLetter['origin']) => Promise<DecisionJobResult>;

/** Throws (to be retried) only when the ledger or the dead-letter queue did not answer. */
export function createDecisionHandler(o: DecisionHandlerOptions): DecisionHandler {
  const log = o.logger.child({ component: 'decisions' });
  return async (payload, origin) => {
    let decision;
    try {
      decision = parseDecision(payload);
    } catch (raw) {
      const err = toVigilError(raw);
      await o.deadLetters.deadLetter({ code: err.code, message: err.message, origin, at: new Date().toISOString() });
      o.metrics?.deadLettered.inc({ code: err.code });
      o.metrics?.decisions.inc({ decision: 'invalid', outcome: 'invalid' });
      log.warn({ code: err.code, origin }, 'invalid decision dead-lettered');
      return { status: 'dead_lettered', code: err.code };
    }
    const applied = await o.ledger.apply(decision);
    o.metrics?.decisions.inc({ decision: decision.decision, outcome: applied.outcome });
    if (applied.outcome === 'unknown_flag') log.warn({ flagId: decision.flagId }, 'decision for a flag the ledger does not hold; not counted');
    for (const p of applied.proposals) {
      o.metrics?.deconfirmProposals.inc();
      log.warn({ bank: p.bank, entry: p.entry, rejected: p.rejected }, 'bank entry proposed for deconfirmation (audit log)');
    }
    return { status: 'applied', applied };
  };
}
