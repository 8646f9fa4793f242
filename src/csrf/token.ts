/**
 * SEC-22: synchronizer token pattern (OWASP CSRF Prevention Cheat Sheet). One 256-bit secret per
 * session, created lazily and kept in the session data; every `getCsrfToken` call hands out a
 * fresh *masked* copy (random pad || pad XOR secret) so the value in a compressed HTML page
 * changes on every render (BREACH). Verification unmasks and compares in constant time.
 *
 * Login CSRF (SEC-26): the secret lives in the anonymous session, so a login form is protected
 * before anyone is logged in. Verify it *before* `session.login()`; login does not carry it over
 * (it is not a pre-login key), so the authenticated session gets a fresh secret on first use.
 */
import type { Session } from '../core/session.js';
import { bytesEqual, fromBase64Url, randomBytes, toBase64Url } from './util.js';

/** Reserved session-data key holding the synchronizer secret. */
export const CSRF_KEY = '__sw_csrf';
const SECRET_BYTES = 32;
/** Length of a masked token as handed to clients (64 bytes, base64url). */
export const CSRF_TOKEN_LENGTH = 86;

function storedSecret(session: Session<any>): Uint8Array | null {
  const v = (session.data as Record<string, unknown>)[CSRF_KEY];
  if (typeof v !== 'string') return null;
  const b = fromBase64Url(v);
  return b && b.length === SECRET_BYTES ? b : null;
}

/**
 * The CSRF token to embed in a form field or send in a header. Creates the session's secret on
 * first use (so the session will be saved at commit). Never put it in a URL or a log.
 *
 * @example
 * res.end(`<input type="hidden" name="csrf" value="${getCsrfToken(session)}">`)
 */
export function getCsrfToken(session: Session<any>): string {
  let secret = storedSecret(session);
  if (!secret) {
    session.assertLive();
    secret = randomBytes(SECRET_BYTES);
    (session.data as Record<string, unknown>)[CSRF_KEY] = toBase64Url(secret);
  }
  const pad = randomBytes(SECRET_BYTES);
  const out = new Uint8Array(SECRET_BYTES * 2);
  out.set(pad, 0);
  for (let i = 0; i < SECRET_BYTES; i++) out[SECRET_BYTES + i] = pad[i]! ^ secret[i]!;
  return toBase64Url(out);
}

/**
 * Check a token from the request body or a header against the session's secret, in constant
 * time. False for a missing, malformed, tampered or foreign token, or a session without a secret.
 * Never throws.
 *
 * @example
 * if (!verifyCsrfToken(session, req.headers['x-csrf-token'])) return forbidden()
 */
export function verifyCsrfToken(session: Session<any>, token: string | null | undefined): boolean {
  if (typeof token !== 'string' || token.length !== CSRF_TOKEN_LENGTH) return false;
  const secret = storedSecret(session);
  const raw = fromBase64Url(token);
  if (!secret || !raw || raw.length !== SECRET_BYTES * 2) return false;
  const unmasked = new Uint8Array(SECRET_BYTES);
  for (let i = 0; i < SECRET_BYTES; i++) unmasked[i] = raw[i]! ^ raw[SECRET_BYTES + i]!;
  return bytesEqual(unmasked, secret);
}

/**
 * Drop the session's secret so the next `getCsrfToken` makes a new one (e.g. after a privilege
 * change that did not rotate the session).
 *
 * @example
 * rotateCsrfToken(session)
 */
export function rotateCsrfToken(session: Session<any>): void {
  session.assertLive();
  delete (session.data as Record<string, unknown>)[CSRF_KEY];
}
