/**
 * What a media item really is, from its first bytes. The declared MIME type is the sender's claim (or
 * a buggy ingest service's guess); it is a hint for evidence, never a gate: the scan decodes whatever
 * sniffs as an accepted raster format, and records a mismatch between claim and content.
 *
 * This is the one sniffer in Vigil: the scan and the safe decoder (src/adapters/sharp-decoder.ts) both
 * call it. Pure: bytes in, a name from a bounded list out (safe for metric labels).
 */

/** Raster formats the safe decoder lets libvips decode. */
export const RASTER_FORMATS = ['jpeg', 'png', 'gif', 'webp', 'tiff', 'avif'] as const;
export type RasterFormat = (typeof RASTER_FORMATS)[number];

/** Video containers: recognised so they are reported as such (exact hashes only, no frames decoded yet). */
export const VIDEO_FORMATS = ['mp4', 'matroska', 'avi', 'mpeg', 'flv'] as const;
export type VideoFormat = (typeof VIDEO_FORMATS)[number];

export const SNIFFED_FORMATS = [
  ...RASTER_FORMATS,
  ...VIDEO_FORMATS,
  'svg',
  'pdf',
  'xml',
  'html',
  'heic',
  'bmp',
  'jxl',
  'jp2',
  'psd',
  'ico',
  'gzip',
  'zip',
  'ogg',
  'mp3',
  'wav',
  'unknown',
] as const;
export type SniffedFormat = (typeof SNIFFED_FORMATS)[number];

/** HEIF brands (still images and sequences); any other `ftyp` brand is an ISO-BMFF video (MP4, MOV, 3GP). */
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1']);

/** Identify the container from its first bytes. Only these bytes decide what decoder runs. */
export function sniffMediaFormat(bytes: Uint8Array): SniffedFormat {
  const b = (i: number): number => bytes[i] ?? -1;
  const ascii = (start: number, s: string): boolean => {
    for (let i = 0; i < s.length; i++) if (b(start + i) !== s.charCodeAt(i)) return false;
    return true;
  };
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (ascii(0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'RIFF') && ascii(8, 'AVI ')) return 'avi';
  if (ascii(0, 'RIFF') && ascii(8, 'WAVE')) return 'wav';
  if (ascii(0, 'II*\0') || ascii(0, 'MM\0*') || ascii(0, 'II+\0') || ascii(0, 'MM\0+')) return 'tiff';
  if (ascii(4, 'ftyp')) {
    const brand = String.fromCharCode(b(8), b(9), b(10), b(11));
    if (brand === 'avif' || brand === 'avis') return 'avif';
    return HEIF_BRANDS.has(brand) ? 'heic' : 'mp4';
  }
  if (b(0) === 0x1a && b(1) === 0x45 && b(2) === 0xdf && b(3) === 0xa3) return 'matroska';
  if (b(0) === 0 && b(1) === 0 && b(2) === 1 && (b(3) === 0xba || b(3) === 0xb3)) return 'mpeg';
  if (ascii(0, 'FLV\x01')) return 'flv';
  if (ascii(0, 'OggS')) return 'ogg';
  if (ascii(0, 'ID3')) return 'mp3';
  if (ascii(0, '%PDF')) return 'pdf';
  if (ascii(0, 'BM')) return 'bmp';
  if ((b(0) === 0xff && b(1) === 0x0a) || ascii(0, '\0\0\0\x0cJXL ')) return 'jxl';
  if (ascii(0, '\0\0\0\x0cjP  ') || (b(0) === 0xff && b(1) === 0x4f && b(2) === 0xff && b(3) === 0x51)) return 'jp2';
  if (ascii(0, '8BPS')) return 'psd';
  if (ascii(0, '\0\0\x01\0')) return 'ico';
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (ascii(0, 'PK\x03\x04')) return 'zip';
  // MPEG audio frame sync (after the image checks: JPEG also starts with 0xff).
  if (b(0) === 0xff && (b(1) & 0xe0) === 0xe0 && b(1) !== 0xff) return 'mp3';
  // Markup: skip a UTF-8 BOM and leading whitespace, then look at the first tag.
  let i = b(0) === 0xef && b(1) === 0xbb && b(2) === 0xbf ? 3 : 0;
  while (i < Math.min(bytes.length, 1024) && (b(i) === 0x20 || b(i) === 0x09 || b(i) === 0x0a || b(i) === 0x0d)) i++;
  if (b(i) === 0x3c /* < */) {
    const head = new TextDecoder('latin1').decode(bytes.subarray(i, Math.min(bytes.length, i + 4096))).toLowerCase();
    if (head.includes('<svg')) return 'svg';
    if (head.startsWith('<?xml') || head.startsWith('<!doctype svg') || head.startsWith('<!--')) return head.includes('svg') ? 'svg' : 'xml';
    return 'html';
  }
  return 'unknown';
}

export function isRasterFormat(format: string): format is RasterFormat {
  return (RASTER_FORMATS as readonly string[]).includes(format);
}

export function isVideoFormat(format: string): format is VideoFormat {
  return (VIDEO_FORMATS as readonly string[]).includes(format);
}

/** Declared MIME type → the container it names, for the formats the sniffer knows. */
const MIME_FORMAT: Readonly<Record<string, SniffedFormat>> = {
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/pjpeg': 'jpeg',
  'image/png': 'png',
  'image/apng': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/tiff': 'tiff',
  'image/avif': 'avif',
  'image/heic': 'heic',
  'image/heif': 'heic',
  'image/heic-sequence': 'heic',
  'image/heif-sequence': 'heic',
  'image/svg+xml': 'svg',
  'image/bmp': 'bmp',
  'image/x-ms-bmp': 'bmp',
  'image/jxl': 'jxl',
  'image/jp2': 'jp2',
  'image/jpx': 'jp2',
  'image/vnd.adobe.photoshop': 'psd',
  'image/x-icon': 'ico',
  'image/vnd.microsoft.icon': 'ico',
  'application/pdf': 'pdf',
  'application/gzip': 'gzip',
  'application/zip': 'zip',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'text/html': 'html',
  'video/mp4': 'mp4',
  'video/quicktime': 'mp4',
  'video/3gpp': 'mp4',
  'video/x-m4v': 'mp4',
  'video/webm': 'matroska',
  'video/x-matroska': 'matroska',
  'video/x-msvideo': 'avi',
  'video/mpeg': 'mpeg',
  'video/x-flv': 'flv',
  'video/ogg': 'ogg',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
};

export function formatForMimeType(mimeType: string): SniffedFormat | undefined {
  return MIME_FORMAT[mimeType.toLowerCase().split(';')[0]?.trim() ?? ''];
}

/**
 * True when the declared type and the bytes disagree: the type names one container and the bytes are
 * another, or the type names a generic/other kind (`application/octet-stream`, `text/plain`) while the
 * bytes are a recognised container, or the type names a known container and the bytes are unrecognised.
 */
export function mimeMismatch(mimeType: string, sniffed: SniffedFormat): boolean {
  const declared = formatForMimeType(mimeType);
  if (sniffed === 'unknown') return declared !== undefined;
  return declared !== sniffed;
}

export const DECLARED_CLASSES = ['image', 'video', 'audio', 'text', 'application', 'other'] as const;
export type DeclaredClass = (typeof DECLARED_CLASSES)[number];

/** The top-level type of a declared MIME type, from a bounded list (a metric label, never the raw string). */
export function declaredClass(mimeType: string): DeclaredClass {
  const top = mimeType.toLowerCase().split('/')[0] ?? '';
  return (DECLARED_CLASSES as readonly string[]).includes(top) ? (top as DeclaredClass) : 'other';
}
