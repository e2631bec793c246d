/**
 * What the dashboard (and `vigil dlq show`) may show of a job: ids, codes, signals. A scan job holds
 * a whole message event, decrypted text and media bytes included; only its ids and the shape of its
 * content (lengths, media ids and types) are shown. An allow-list, so a field added to the event
 * later stays hidden until someone decides it may be shown.
 */

const SAFE_ID = /^[\x21-\x7e]{1,256}$/;
const ID_FIELDS = ['schema', 'eventId', 'messageId', 'conversationId', 'senderId', 'sentAt', 'priority'] as const;
const MEDIA_ID_FIELDS = ['id', 'mimeType'] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const safeId = (v: unknown): string | undefined => (typeof v === 'string' && SAFE_ID.test(v) ? v : undefined);

/** A scan-queue job's data, without message text, media bytes, refs' contents or unknown fields. */
export function scanJobView(data: unknown): Record<string, unknown> {
  if (!isRecord(data))
    return {
      redacted:
        typeof data === 'string'
          ? `payload is a string of ${data.length} characters, not an event`
          : `payload is ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}, not an event`,
    };
  const out: Record<string, unknown> = {};
  for (const k of ID_FIELDS) {
    const v = safeId(data[k]);
    if (v !== undefined) out[k] = v;
  }
  if (Array.isArray(data.recipientIds)) out.recipients = data.recipientIds.length;
  if (typeof data.text === 'string') out.text = `[redacted: ${data.text.length} characters]`;
  else if (data.text !== undefined) out.text = '[redacted]';
  if (Array.isArray(data.media)) {
    out.media = data.media.map((m: unknown) => {
      if (!isRecord(m)) return '[redacted]';
      const item: Record<string, unknown> = {};
      for (const k of MEDIA_ID_FIELDS) {
        const v = safeId(m[k]);
        if (v !== undefined) item[k] = v;
      }
      if (typeof m.bytes === 'string') item.bytes = `[redacted: about ${Math.floor((m.bytes.length * 3) / 4)} bytes]`;
      if (m.ref !== undefined) item.ref = '[redacted]';
      return item;
    });
  }
  if (data.context !== undefined) out.context = '[redacted]';
  const hidden = Object.keys(data).filter(
    (k) => !(ID_FIELDS as readonly string[]).includes(k) && !['recipientIds', 'text', 'media', 'context'].includes(k),
  ).length;
  if (hidden) out.otherFields = `[${hidden} redacted]`;
  return out;
}
