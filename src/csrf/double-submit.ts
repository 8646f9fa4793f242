/**
 * SEC-23: signed double-submit cookie (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit
 * Cookie"), for setups without server-side session data (sealed cookies, JWT).
 *
 * The token is `v1.<random>.<mac>`, MAC = HMAC-SHA256(key, "sw-csrf-v1" | len(binding):binding |
 * random). It is set in a `__Host-` cookie and echoed by the page in a header or form field; the
 * server checks that both copies are equal AND that the MAC holds for *this* session's binding.
 * A naive (unsigned) pair, or a pair minted for another session, fails — which is what defeats
 * cookie injection from a sibling subdomain.
 */
import { ConfigError } from '../errors.js';
import { keyBytes, keygenHint } from '../lib/key-errors.js';
import { parseCookieHeader, serializeCookie, validateCookieOptions } from '../cookie/index.js';
import type { SessionCrypto } from '../crypto/types.js';
import { webCrypto } from '../crypto/web.js';
import { safeEqual } from './util.js';

export interface DoubleSubmitOptions {
  /** HMAC keys, newest first, each at least 32 bytes. Use a key distinct from the session key. */
  secrets: ReadonlyArray<string | Uint8Array>;
  /** Default `__Host-csrf` (or `csrf` with `insecureDevelopmentCookies`). */
  cookieName?: string;
  /** Default 'Strict'. */
  sameSite?: 'Strict' | 'Lax';
  /**
   * The page usually reads the cookie to echo it in a header, so it is not HttpOnly by default.
   * Set true when the server renders the token into the page itself.
   */
  httpOnly?: boolean;
  /** Named opt-in for plain-HTTP local development: no Secure, no `__Host-` prefix. */
  insecureDevelopmentCookies?: boolean;
  /** WebCrypto by default (works on Node and edge runtimes alike); pass `nodeCrypto` for speed on Node. */
  crypto?: SessionCrypto;
}

export interface DoubleSubmit {
  readonly cookieName: string;
  /**
   * Mint a token bound to `binding` (the session's id, or any value unique to the session and
   * unknown to other users). Returns the token for the page and the Set-Cookie header value.
   */
  issue(binding: string): Promise<{ token: string; setCookie: string }>;
  /**
   * True when the request's cookie and submitted token are the same, well-formed, and signed for
   * `binding` by one of the keys. Constant-time; never throws.
   */
  verify(binding: string, cookieHeader: string | null | undefined, submitted: string | null | undefined): Promise<boolean>;
}

const TOKEN_RE = /^v1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;

/**
 * Build a signed double-submit helper.
 *
 * @example
 * const ds = doubleSubmit({ secrets: [process.env.CSRF_KEY!] })
 * const { token, setCookie } = await ds.issue(session.id)
 * // later, on POST:
 * if (!(await ds.verify(session.id, req.headers.cookie, req.headers['x-csrf-token']))) return forbidden()
 */
export function doubleSubmit(options: DoubleSubmitOptions): DoubleSubmit {
  if (!options || !Array.isArray(options.secrets) || options.secrets.length === 0) {
    throw new ConfigError(`doubleSubmit: at least one secret is required; ${keygenHint('session')}`);
  }
  const keys = options.secrets.map((s, i) => keyBytes(s, `doubleSubmit: secrets[${i}]`, 32, 'session'));
  const insecure = options.insecureDevelopmentCookies === true;
  const cookieName = options.cookieName ?? (insecure ? 'csrf' : '__Host-csrf');
  const attrs = {
    secure: !insecure,
    httpOnly: options.httpOnly ?? false,
    sameSite: options.sameSite ?? ('Strict' as const),
    path: '/',
  };
  validateCookieOptions(cookieName, attrs);
  const crypto = options.crypto ?? webCrypto;
  const input = (binding: string, rand: string): string => `sw-csrf-v1|${binding.length}:${binding}|${rand}`;

  return {
    cookieName,
    async issue(binding) {
      if (typeof binding !== 'string') throw new ConfigError('doubleSubmit: binding must be a string');
      const rand = crypto.randomToken(32);
      const token = `v1.${rand}.${await crypto.hmac(keys[0]!, input(binding, rand))}`;
      return { token, setCookie: serializeCookie(cookieName, token, attrs) };
    },
    async verify(binding, cookieHeader, submitted) {
      if (typeof binding !== 'string' || typeof submitted !== 'string' || !TOKEN_RE.test(submitted)) return false;
      const fromCookie = parseCookieHeader(cookieHeader, cookieName)[cookieName];
      if (fromCookie === undefined || !safeEqual(fromCookie, submitted)) return false;
      const rand = submitted.slice(3, 46);
      const mac = submitted.slice(47);
      let ok = false;
      for (const k of keys) {
        // Check every key so timing does not reveal which one signed.
        if (crypto.timingSafeEqual(await crypto.hmac(k, input(binding, rand)), mac)) ok = true;
      }
      return ok;
    },
  };
}
