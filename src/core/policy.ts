/**
 * The safety team's policy (format v2; v1 files are translated): rules with `when` conditions over a
 * message's signals and context, which decide category, severity and action, plus every matching
 * threshold, the classifier cascade and the false-positive brakes. `decide` is a pure, synchronous
 * function of a scan report, a compiled policy and a counters snapshot. Reference: docs/policy.md.
 */
export { compilePolicy, pdqThresholdFor, dihedralFor, dihedralAny, globMatches, compareGlobSpecificity, canonicalJson, type Policy } from './policy/compile.js';
export {
  decide,
  decisionContext,
  entryKey,
  evaluate,
  inRollout,
  isAutomated,
  rolloutBucket,
  severityRank,
  ACTION_RANK,
  BRAKE_CODES,
  NO_COUNTERS,
  type BrakeCode,
  type DecisionContext,
  type DecisionCounters,
  type RuleHit,
  type ScanReport,
  type Verdict,
  type VerdictFlag,
} from './policy/decide.js';
export { compareShadow, type Outcome, type ShadowComparison } from './policy/shadow.js';
export { shouldClassify, sampleFraction, type ClassifyInput, type ClassifyReason } from './policy/cascade.js';
export { diffPolicies, ruleOrderChanged } from './policy/diff.js';
export {
  policyV2Schema as policySchema,
  RULE_STATUSES,
  type Condition,
  type PolicyDocument,
  type PolicyRule,
  type RuleStatus,
  type ClassifierCascade,
} from './policy/schema.js';
export type { SignalType } from './signals.js';
