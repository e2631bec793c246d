import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { VigilError } from '../core/errors.js';
import { compilePolicy, type Policy } from '../core/policy.js';

/** Parses and validates policy YAML text; errors name the source and the bad key path. */
export function parsePolicyText(text: string, source: string, options: { revision?: number } = {}): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new VigilError('POLICY_INVALID', `${source} is not valid YAML${where}`);
  }
  return compilePolicy(raw, source, options);
}

/** Reads a policy file's text; a missing file is a POLICY_INVALID error that says how to point at one. */
export async function readPolicyText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new VigilError(
      'POLICY_INVALID',
      `cannot read policy file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); set VIGIL_POLICY_FILE or --policy`,
    );
  }
}

/** Reads and validates a policy YAML file; errors name the file and the bad key path. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  return parsePolicyText(await readPolicyText(path), `policy file ${path}`);
}
