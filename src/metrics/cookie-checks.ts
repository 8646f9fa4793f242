/**
 * Cookie security compliance: which attributes a session Set-Cookie header actually carried.
 * Counted per check so a dashboard can show "share of session cookies sent without Secure".
 */
import { parseSetCookie } from '../cookie/index.js';

export const COOKIE_CHECKS = {
  httpOnly: 'HttpOnly (no script access)',
  secure: 'Secure (HTTPS only)',
  sameSite: 'SameSite=Lax or Strict',
  hostPrefix: '__Host- prefix (host-locked)',
  path: 'Path=/',
  noDomain: 'No Domain attribute',
  nonPersistent: 'Non-persistent (no Expires / Max-Age)',
  noStore: 'Cache-Control: no-store on the response',
} as const;
export type CookieCheck = keyof typeof COOKIE_CHECKS;

/** Results of every check for one parsed session Set-Cookie header. */
export function checkCookie(
  c: { name: string; attributes: Record<string, string | true> },
  cacheControl: string | undefined,
): Record<CookieCheck, boolean> {
  const a = c.attributes;
  const maxAge = a['max-age'];
  return {
    httpOnly: a.httponly === true,
    secure: a.secure === true,
    sameSite: typeof a.samesite === 'string' && /^(lax|strict)$/i.test(a.samesite),
    hostPrefix: c.name.startsWith('__Host-'),
    path: a.path === '/',
    noDomain: a.domain === undefined,
    // A clearing cookie (Max-Age=0) is fine; any other lifetime makes the cookie persistent.
    nonPersistent: a.expires === undefined && (maxAge === undefined || maxAge === '0'),
    noStore: /\bno-store\b/i.test(cacheControl ?? ''),
  };
}

/**
 * Results of every check for the Set-Cookie headers named `cookieName` (others are ignored).
 * The cookie's value is never looked at beyond parsing.
 */
export function checkSessionCookies(
  setCookies: readonly string[],
  cookieName: string,
  cacheControl: string | undefined,
): Array<Record<CookieCheck, boolean>> {
  const out: Array<Record<CookieCheck, boolean>> = [];
  for (const h of setCookies) {
    const c = parseSetCookie(h);
    if (c && c.name === cookieName) out.push(checkCookie(c, cacheControl));
  }
  return out;
}
