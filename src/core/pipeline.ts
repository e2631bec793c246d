/**
 * parse → scan → decide → flags: the whole per-event computation, shared verbatim by the queue
 * worker and the offline `vigil scan`, so both produce identical flags for the same events.
 */
import { parseMessageEvent, type ContractLimits, type Flag, type MessageEvent } from './contracts.js';
import { buildFlags } from './flags.js';
import { compareShadow, decide, decisionContext, type DecisionCounters, type Policy, type ScanReport, type ShadowComparison, type Verdict } from './policy.js';
import { scanEvent, type Scanner } from './scan.js';

export interface PipelineResult {
  event: MessageEvent;
  report: ScanReport;
  flags: Flag[];
  verdict: Verdict;
  /** The live policy this event was decided with (and the candidate run beside it, if any). */
  policy: Policy;
  candidate?: Policy | undefined;
  /** Shadow rules and the candidate policy beside the live verdict (empty when there are none). */
  shadow: ShadowComparison[];
}

export interface DecideOptions {
  /** Brakes and deconfirmations, as a snapshot taken before the decision. */
  counters?: DecisionCounters | undefined;
  /** A whole candidate policy evaluated in shadow on the same report (it never flags). */
  candidate?: Policy | undefined;
}

export async function processPayload(payload: unknown, scanner: Scanner, policy: Policy, limits: ContractLimits, options: DecideOptions = {}): Promise<PipelineResult> {
  const event = parseMessageEvent(payload, limits);
  const report: ScanReport = { ...(await scanEvent(event, scanner, policy)), context: decisionContext(event) };
  const verdict = decide(report, policy, options.counters);
  const candidate = options.candidate ? decide(report, options.candidate, options.counters) : undefined;
  const hasShadowRules = verdict.hits.some((h) => h.status === 'shadow');
  const shadow = candidate || hasShadowRules ? compareShadow(verdict, candidate) : [];
  return { event, report, flags: buildFlags(event, report, verdict, policy), verdict, policy, candidate: options.candidate, shadow };
}
