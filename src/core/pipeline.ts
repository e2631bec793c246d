/**
 * parse → scan → decide → flags: the whole per-event computation, shared verbatim by the queue
 * worker and the offline `vigil scan`, so both produce identical flags for the same events.
 */
import { parseMessageEvent, type ContractLimits, type Flag, type MessageEvent } from './contracts.js';
import { buildFlags } from './flags.js';
import { decide, type Policy, type ScanReport } from './policy.js';
import { scanEvent, type ScanOptions, type Scanner } from './scan.js';

export interface PipelineResult {
  event: MessageEvent;
  report: ScanReport;
  flags: Flag[];
}

export async function processPayload(payload: unknown, scanner: Scanner, policy: Policy, limits: ContractLimits, options: ScanOptions = {}): Promise<PipelineResult> {
  const event = parseMessageEvent(payload, limits);
  const report = await scanEvent(event, scanner, policy, options);
  const flags = buildFlags(event, report, decide(report, policy), policy);
  return { event, report, flags };
}
