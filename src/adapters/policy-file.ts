import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { VigilError } from '../core/errors.js';
import { compilePolicy, type Policy } from '../core/policy.js';

/** Reads and validates a policy YAML file; errors name the file and the bad key path. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new VigilError('POLICY_INVALID', `cannot read policy file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); set VIGIL_POLICY_FILE or --policy`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new VigilError('POLICY_INVALID', `policy file ${path} is not valid YAML${where}`);
  }
  return compilePolicy(raw, `policy file ${path}`);
}
