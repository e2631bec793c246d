/**
 * The one place secrets are masked before a string reaches a log, an error, stderr or a metric.
 * Over-masking is the safe side: when it is unclear where a password ends, everything up to the host
 * is hidden.
 */

/**
 * `scheme://user:password@host` → `scheme://***@host`. The userinfo runs to the LAST `@` of the
 * URL token, so passwords holding `@` or `/` (which some clients accept unescaped) are masked whole.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s"'<>`]*@/gi;
/** `?password=…`, `&pass=…`, `sasl_password=…` and the like, in query strings or key=value text. */
const PASSWORD_PARAM = /\b([a-z0-9_.-]*(?:password|passwd|pass|pwd|secret|token)=)[^\s&"'<>`]*/gi;

/**
 * Masks URL credentials and password parameters in `text`, and every occurrence of the given known
 * secret values (a SASL password, a token from the configuration) wherever it appears.
 */
export function maskSecrets(text: string, knownSecrets: readonly (string | undefined)[] = registeredSecrets): string {
  let out = text.replace(URL_USERINFO, '$1***@').replace(PASSWORD_PARAM, '$1***');
  for (const secret of knownSecrets) {
    // Very short values would mask ordinary words; they are still never printed by describeConfig.
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * A Redis (or any) URL as it may be shown to a person: credentials masked. A cluster's list of seed
 * URLs is masked one URL at a time, so every host stays readable.
 */
export function maskUrl(url: string): string {
  return splitRedisUrls(url)
    .map((u) => maskSecrets(u))
    .join(',');
}

/** `redis://a:1,redis://b:2` → its URLs (a cluster's seed nodes); one URL → itself. */
export function splitRedisUrls(value: string): string[] {
  return value.split(/,(?=\s*rediss?:\/\/)/i).map((u) => u.trim());
}

let registeredSecrets: readonly string[] = [];

/**
 * Secret values loaded from the configuration (SASL password, passwords inside URLs), so that
 * `maskSecrets` hides them even where they appear outside a URL, e.g. quoted by a library error.
 */
export function registerSecrets(values: readonly (string | undefined)[]): void {
  const next = new Set(registeredSecrets);
  for (const v of values) if (v && v.length >= 4) next.add(v);
  registeredSecrets = [...next];
}
