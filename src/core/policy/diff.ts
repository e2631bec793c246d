/**
 * A readable structural diff of two policy documents: one line per changed key path, rules keyed by
 * id (so reordering or inserting a rule does not show every later rule as changed).
 */
import type { PolicyDocument } from './schema.js';

function keyed(doc: PolicyDocument): Record<string, unknown> {
  const { rules, ...rest } = doc;
  return { ...rest, rules: Object.fromEntries(rules.map((r) => [r.id, r])) };
}

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    if (keys.length === 0) out.set(path, '{}');
    for (const k of keys) flatten((value as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return;
  }
  out.set(path, JSON.stringify(value));
}

export function diffPolicies(before: PolicyDocument | undefined, after: PolicyDocument): string[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  if (before) flatten(keyed(before), '', a);
  flatten(keyed(after), '', b);
  const lines: string[] = [];
  for (const [k, v] of b) {
    const old = a.get(k);
    if (old === undefined) lines.push(`+ ${k}: ${v}`);
    else if (old !== v) lines.push(`~ ${k}: ${old} → ${v}`);
  }
  for (const [k, v] of a) if (!b.has(k)) lines.push(`- ${k}: ${v}`);
  const order = (l: string) => l.slice(2);
  return lines.sort((x, y) => (order(x) < order(y) ? -1 : order(x) > order(y) ? 1 : 0));
}

/** Rule order matters (claiming): say so when only the order changed. */
export function ruleOrderChanged(before: PolicyDocument | undefined, after: PolicyDocument): boolean {
  if (!before) return false;
  const common = (x: PolicyDocument, y: PolicyDocument) => x.rules.map((r) => r.id).filter((id) => y.rules.some((r) => r.id === id));
  return common(before, after).join('\0') !== common(after, before).join('\0');
}
