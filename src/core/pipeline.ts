/**
 * parse → scan → decide → flags: the whole per-event computation, shared verbatim by the queue
 * worker and the offline `vigil scan`, so both produce identical flags for the same events.
 */
import { parseMessageEvent, type ContractLimits, type Flag, type MessageEvent } from './contracts.js';
import { buildFlags } from './flags.js';
import { decide, type Policy, type ScanReport } from './policy.js';
import { scanEvent, type Scanner } from './scan.js';

export interface PipelineResult {
  event: MessageEvent;
  report: ScanReport;
  flags: Flag[];
}

/** Optional timing of the pipeline's own stages; the clock is passed in so the core stays free of I/O. */
export interface StageClock {
  now(): number;
  observe(stage: 'parse' | 'decide', seconds: number): void;
}

export async function processPayload(payload: unknown, scanner: Scanner, policy: Policy, limits: ContractLimits, clock?: StageClock): Promise<PipelineResult> {
  let t = clock?.now() ?? 0;
  const event = parseMessageEvent(payload, limits);
  if (clock) clock.observe('parse', (clock.now() - t) / 1000);
  const report = await scanEvent(event, scanner, policy);
  t = clock?.now() ?? 0;
  const flags = buildFlags(event, report, decide(report, policy), policy);
  if (clock) clock.observe('decide', (clock.now() - t) / 1000);
  return { event, report, flags };
}
