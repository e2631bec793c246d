/**
 * Credentials for the ops server: one token from config (VIGIL_OPS_TOKEN), sent as
 * `Authorization: Bearer <token>`, or as basic auth with any user name (recorded as the actor in the
 * audit log) and the token as password, which is what a browser can send.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { VigilError } from '../core/errors.js';

/** Which endpoints need no token; the dashboard and its actions always need it. */
export type OpsPublic = 'all' | 'health' | 'none';

export interface OpsAuthConfig {
  token?: string | undefined;
  public: OpsPublic;
}

export const TOKEN_HINT =
  'set VIGIL_OPS_TOKEN to a secret of at least 16 characters (for example `export VIGIL_OPS_TOKEN=$(openssl rand -hex 32)`) and send it as `Authorization: Bearer <token>`, or as basic auth with your name as user and the token as password';

export const CLIENT_HINT =
  'send the ops token (VIGIL_OPS_TOKEN) as `Authorization: Bearer <token>`, or basic auth with your name as user and the token as password';

const ACTOR = /^[A-Za-z0-9_.@+-]{1,64}$/;

const digest = (s: string) => createHash('sha256').update(s).digest();

export type Credential = { ok: true; actor: string } | { ok: false; reason: string };

/** Constant-time comparison of what the client sent with the token. */
export function checkAuthorization(header: string | undefined, token: string, actorHeader?: string): Credential {
  if (!header) return { ok: false, reason: 'no credentials' };
  const expected = digest(token);
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') {
    if (!timingSafeEqual(digest(value), expected)) return { ok: false, reason: 'wrong token' };
    return { ok: true, actor: actorHeader && ACTOR.test(actorHeader) ? actorHeader : 'bearer-token' };
  }
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? '' : decoded.slice(0, colon);
    const password = colon < 0 ? decoded : decoded.slice(colon + 1);
    if (!timingSafeEqual(digest(password), expected)) return { ok: false, reason: 'wrong token' };
    return { ok: true, actor: ACTOR.test(user) ? user : 'basic-auth' };
  }
  return { ok: false, reason: 'unsupported authorization scheme' };
}

export type OpsPath = 'health' | 'metrics' | 'dashboard';

export function needsToken(path: OpsPath, pub: OpsPublic): boolean {
  if (path === 'dashboard') return true;
  if (path === 'metrics') return pub !== 'all';
  return pub === 'none';
}

/** Refuses to start a server that would have to protect something without a token to protect it with. */
export function assertTokenFor(paths: readonly OpsPath[], auth: OpsAuthConfig): void {
  const guarded = paths.filter((p) => needsToken(p, auth.public));
  if (guarded.length && !auth.token)
    throw new VigilError(
      'CONFIG_INVALID',
      `the ops server needs a token for ${guarded.map((p) => (p === 'dashboard' ? '/dashboard' : p === 'metrics' ? '/metrics' : '/healthz and /readyz')).join(', ')} and none is configured: ${TOKEN_HINT}`,
    );
}
