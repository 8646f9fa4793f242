/**
 * SEC-32 (OWASP JWT cheat sheet, "token sidejacking"): a random value in a `__Host-` HttpOnly
 * cookie; the access token carries only its SHA-256 (`fph` claim). A token stolen from JS or a
 * log is useless without the cookie.
 */
import { randomBytes } from 'node:crypto';
import { serializeCookie } from '../../cookie/index.js';

export const FINGERPRINT_COOKIE = '__Host-fgp';

/**
 * A fresh fingerprint and its Set-Cookie line. Pass `value` to `JwtSigner.sign(..., { fingerprint })`
 * and, on each request, the cookie's value to `JwtVerifier.verify(..., { fingerprint })`.
 *
 * @example
 * const fp = createFingerprint()
 * res.appendHeader('Set-Cookie', fp.setCookie)
 * const accessToken = signer.sign({ sub }, { fingerprint: fp.value })
 */
export function createFingerprint(o: { cookieName?: string; maxAge?: number } = {}): { value: string; setCookie: string } {
  const value = randomBytes(32).toString('base64url');
  const setCookie = serializeCookie(o.cookieName ?? FINGERPRINT_COOKIE, value, {
    secure: true,
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    ...(o.maxAge !== undefined ? { maxAge: o.maxAge } : {}),
  });
  return { value, setCookie };
}
