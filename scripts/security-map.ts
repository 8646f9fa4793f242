/**
 * Prints the SEC id -> test table for docs/security.md from the test sources, so the map can be
 * regenerated whenever tests change: `npx tsx scripts/security-map.ts`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const byId = new Map<number, string[]>();
for (const file of files('test')) {
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/\b(?:it|test|describe)\(\s*(['"`])(.*?)\1/g)) {
    const title = m[2]!;
    for (const id of title.matchAll(/SEC-(\d+)/g)) {
      const n = Number(id[1]);
      byId.set(n, [...(byId.get(n) ?? []), `\`${file}\` — ${title.replace(/\|/g, '\\|')}`]);
    }
  }
}
/** Where each requirement is implemented (kept next to the generator so the table stays whole). */
const WHERE: Record<number, string> = {
  1: 'CSPRNG tokens, 256 bits (`src/core/token.ts`, `crypto.randomToken`)',
  2: 'opaque tokens; generic cookie name `__Host-sid`',
  3: 'MAC checked before any store lookup; unknown/malformed → fresh session + `token.invalid` (`SessionManager.load`); sealed cookies likewise',
  4: 'Secure + HttpOnly defaults; token only in Set-Cookie (`src/core/options.ts`, adapters)',
  5: 'SameSite always explicit, Lax default; None without Secure throws (`validateCookieOptions`)',
  6: '`__Host-` default; prefix rules enforced at configuration (`src/cookie/index.ts`)',
  7: '4096-byte limit (`serializeCookie` → `CookieTooLargeError`); sealed payloads chunked (`src/stateless/chunk.ts`)',
  8: 'non-persistent by default; Max-Age capped by absolute lifetime and 400 days',
  9: 'Partitioned requires Secure + SameSite=None',
  10: 'cookie MAC key ring with re-issue; AES-256-GCM seals with key id (`src/stateless/seal.ts`)',
  11: 'server-side idle + absolute deadlines (`SessionRecord.expiresAt`, `SessionManager.live`)',
  12: 'NIST AAL presets; longer limits than a preset allows throw (`AAL_PRESETS`)',
  13: 'expiry from the store record only; `Cache-Control: no-store` with every session cookie',
  14: '`authTime`, `session.requireFreshAuth()` → `ERR_REAUTH_REQUIRED`',
  15: '`session.login()` issues a new token; the old one is anonymous at once, also after a step-up by the same user',
  16: '`completeStep()` (MFA) and `rotate()` (role change) issue new tokens',
  17: '`login(id, { pending })` half-authenticated; `requireAuth()`; `preLoginKeys` allow-list',
  18: '`renew()` grace window (`rotationGrace`, ≤ 60 s), read-only for security decisions (`ERR_SESSION_SUPERSEDED`); `insecureDevelopmentCookies` named opt-in',
  19: 'store TTL = `expiresAt`; `update`/`touch` never revive (store contract + conformance suite)',
  20: 'compare-and-set in every store; refresh-family rotation on CAS (`src/stateless/refresh.ts`)',
  21: 'stores hold SHA-256(token) only',
  22: 'synchronizer token in the session, constant-time compare (`src/csrf/token.ts`)',
  23: 'signed double-submit cookie (`src/csrf/double-submit.ts`)',
  24: 'Fetch Metadata checks with `Vary` (`src/csrf/origin.ts`)',
  25: 'exact Origin/Referer match for unsafe methods',
  26: 'login CSRF token in the anonymous session; form/text bodies refusable on JSON endpoints',
  27: 'per-key algorithm allow-lists, `none` refused (`src/stateless/jwt/`)',
  28: 'keys from configuration or pinned JWKS only; embedded key headers ignored',
  29: 'exp/nbf (bounded skew), iss, aud, sub checked',
  30: 'distinct `typ` for access and refresh tokens',
  31: 'HMAC secrets under 256 bits refused at configuration',
  32: 'fingerprint cookie, its hash in the token (`src/stateless/jwt/fingerprint.ts`)',
  33: 'refresh families, reuse revokes the family, grace window for races',
  34: 'refresh idle/absolute expiry, bound to session and user',
  35: '`session.riskSignals`, `session.anomaly` event (IP/UA change is a signal, never the only control); DBSC device binding (`sessionward/dbsc`, `session.binding`, `session.binding_violation`) and DPoP for access tokens (`DpopVerifier`)',
  36: 'logout deletes the record, clears the cookie with the same attributes and Max-Age=0, optional Clear-Site-Data',
  37: 'sealed/JWT revocation: per-user cut-off + denylist (`src/stateless/revocation.ts`)',
  38: '`destroyOtherSessions()`, `destroyUserSessions()`; rotation pointers keep their owner and end with the rest',
  39: '`listSessions()`, `destroySession(id)` (the logout mechanism: fence, follow same-owner rotation pointers); per-user index in every store',
  40: '`onEvent` with UTC timestamps for every lifecycle and defensive action',
  41: 'events carry HMAC(audit key, id), never the token',
  42: 'cookies failing the MAC counted per known source: `alert.invalid_tokens`, optional 429 that clears the cookie (`invalidTokenLimit`)',
};

console.log('| id | implemented by | tests |');
console.log('|---|---|---|');
for (let n = 1; n <= 42; n++) {
  const tests = byId.get(n) ?? [];
  console.log(`| SEC-${n} | ${WHERE[n]} | ${tests.length ? tests.join('<br>') : '—'} |`);
}
