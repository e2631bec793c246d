/**
 * Shadow comparisons: what shadow rules (and a whole candidate policy) would have done, beside what
 * the live policy did, on the same scan report. Ids and codes only — these records are stored.
 */
import type { Action } from '../contracts.js';
import type { Verdict } from './decide.js';

export type Outcome = Action | 'none';

export interface ShadowComparison {
  /** `rule`: a `status: shadow` rule of the live policy; `candidate`: a rule of the candidate policy. */
  source: 'rule' | 'candidate';
  ruleId: string;
  category: string;
  live: Outcome;
  shadow: Outcome;
  /** true when the shadow side fired (a would-flag); false for a live flag the candidate would not make. */
  fired: boolean;
  agree: boolean;
}

function liveActions(live: Verdict): Map<string, { action: Action; ruleIds: string[] }> {
  return new Map(live.flags.map((f) => [f.category, { action: f.action, ruleIds: f.ruleIds }]));
}

/**
 * One comparison per category a shadow rule would flag: it agrees when the live policy flagged the
 * same category with the same action. With a candidate verdict, its rules are compared the same way,
 * and every live flag the candidate would not make at all is a disagreement too (shadow: none).
 */
export function compareShadow(live: Verdict, candidate?: Verdict): ShadowComparison[] {
  const actions = liveActions(live);
  const out: ShadowComparison[] = [];
  const push = (source: ShadowComparison['source'], ruleId: string, category: string, shadow: Action) => {
    const l: Outcome = actions.get(category)?.action ?? 'none';
    out.push({ source, ruleId, category, live: l, shadow, fired: true, agree: l === shadow });
  };
  for (const hit of live.hits) if (hit.status === 'shadow') for (const o of hit.outcomes) push('rule', hit.ruleId, o.category, o.action);
  if (candidate) {
    for (const hit of candidate.hits) if (hit.status === 'live') for (const o of hit.outcomes) push('candidate', hit.ruleId, o.category, o.action);
    const candidateCategories = new Set(candidate.flags.map((f) => f.category));
    for (const [category, { action, ruleIds }] of actions)
      if (!candidateCategories.has(category))
        out.push({ source: 'candidate', ruleId: ruleIds[0] ?? 'unknown', category, live: action, shadow: 'none', fired: false, agree: false });
  }
  return out;
}
