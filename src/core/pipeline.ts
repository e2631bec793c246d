/**
 * parse → scan → decide → flags: the whole per-event computation, shared verbatim by the queue
 * worker and the offline `vigil scan`, so both produce identical flags for the same events.
 */
import { parseMessageEvent, type ContractLimits, type Flag, type MessageEvent } from './contracts.js';
import { buildFlags } from './flags.js';
import { compareShadow, decide, decisionContext, type DecisionCounters, type Policy, type ScanReport, type ShadowComparison, type Verdict } from './policy.js';
import { scanEvent, type ScanOptions, type Scanner } from './scan.js';

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

/** Optional timing of the pipeline's own stages; the clock is passed in so the core stays free of I/O. */
export interface StageClock {
  now(): number;
  observe(stage: 'parse' | 'decide', seconds: number): void;
}

export interface DecideOptions extends ScanOptions {
  clock?: StageClock | undefined;
  /** Brakes and deconfirmations, as a snapshot taken before the decision. */
  counters?: DecisionCounters | undefined;
  /** A whole candidate policy evaluated in shadow on the same report (it never flags). */
  candidate?: Policy | undefined;
}

export async function processPayload(
  payload: unknown,
  scanner: Scanner,
  policy: Policy,
  limits: ContractLimits,
  options: DecideOptions = {},
): Promise<PipelineResult> {
  const { clock } = options;
  let t = clock?.now() ?? 0;
  const event = parseMessageEvent(payload, limits);
  if (clock) clock.observe('parse', (clock.now() - t) / 1000);
  const report: ScanReport = { ...(await scanEvent(event, scanner, policy, options)), context: decisionContext(event) };
  t = clock?.now() ?? 0;
  const verdict = decide(report, policy, options.counters);
  const candidate = options.candidate ? decide(report, options.candidate, options.counters) : undefined;
  const hasShadowRules = verdict.hits.some((h) => h.status === 'shadow');
  const shadow = candidate || hasShadowRules ? compareShadow(verdict, candidate) : [];
  const flags = buildFlags(event, report, verdict, policy);
  if (clock) clock.observe('decide', (clock.now() - t) / 1000);
  return { event, report, flags, verdict, policy, candidate: options.candidate, shadow };
}
