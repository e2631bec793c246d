/** Text scanning: normalization, term banks, pattern rules, matching and lint. */
export { compileTextScanner, CompiledTextScanner, DEFAULT_MAX_TEXT_CHARS, type TextScanResult, type TextScannerOptions } from './scanner.js';
export {
  TERM_MODES,
  canonicalEntry,
  canonicalJsonl,
  makeTermBank,
  parseTermBankJsonl,
  parseTermEntry,
  parseTermLines,
  termBankVersion,
  termEntrySchema,
  type LineError,
  type TermBankData,
  type TermEntry,
  type TermMode,
} from './term-bank.js';
export {
  makePatternRuleSet,
  parsePatternJsonl,
  parsePatternLines,
  parsePatternRule,
  patternRuleSchema,
  type PatternRule,
  type PatternRuleSet,
} from './patterns.js';
export { lintTermBank, type LintCode, type LintIssue, type LintLevel, type LintOptions } from './lint.js';
export { normalizeText, normalizedDisplay, type NormalizedText, type TextToken } from './normalize.js';
