/**
 * @internal The session cookie's Set-Cookie values: the one that carries a signed token and the
 * one that clears it. Pure strings.
 */
import { serializeCookie } from '../cookie/index.js';
import type { ResolvedOptions } from './options.js';

type CookieOptions = Pick<ResolvedOptions, 'cookieName' | 'cookieAttrs'>;

/**
 * The cookie for a signed token. `persistMs` null makes a browser-session cookie; otherwise it
 * lives that long, never past the session's absolute deadline (SEC-8).
 */
export function sessionCookie(o: CookieOptions, value: string, persistMs: number | null, absoluteExpiresAt: number, now: number): string {
  const maxAge = persistMs === null ? undefined : Math.max(0, Math.floor(Math.min(persistMs, absoluteExpiresAt - now) / 1000));
  const expires = maxAge === undefined ? undefined : new Date(now + maxAge * 1000);
  return serializeCookie(o.cookieName, value, { ...o.cookieAttrs, maxAge, expires });
}

/** The cookie that clears the session cookie (Max-Age=0 and an expiry in the past, SEC-36). */
export function clearingCookie(o: CookieOptions): string {
  return serializeCookie(o.cookieName, '', { ...o.cookieAttrs, maxAge: 0, expires: new Date(0) });
}
