/**
 * Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): after a
 * successful sign-in the browser gets a signed cookie naming the account it signed in to. A later
 * sign-in attempt for that account that presents it is throttled on its own counter, so an
 * attacker hammering a known email, from one address or thousands, slows down only the
 * browsers that never signed in to it, never the owner's own.
 *
 * The cookie is `v1.<issued, base36 ms>.<nonce>.<HMAC-SHA-256(key, email, issued, nonce)>`: the
 * email is not in it, only bound by the MAC. The key is derived from each session secret, so the
 * same key ring rotation applies, and a device cookie can never pass for a session token.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookieHeader, serializeCookie } from 'sessionward';

const LIFETIME_MS = 180 * 24 * 3_600_000;
const VALUE_RE = /^v1\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export class DeviceCookies {
  readonly name: string;
  private readonly keys: Buffer[];

  constructor(
    secrets: readonly string[],
    private readonly https: boolean,
    private readonly clock: () => number,
  ) {
    // Production settings get the host-locked name; plain-HTTP development cannot (no Secure).
    this.name = https ? '__Host-device' : 'device';
    this.keys = secrets.map((s) => createHmac('sha256', s).update('sessionward reference app: device cookie v1').digest());
  }

  private mac(key: Buffer, email: string, issued: string, nonce: string): string {
    return createHmac('sha256', key).update(`${email}\n${issued}\n${nonce}`).digest('base64url');
  }

  /** A Set-Cookie value for a browser that has just signed in to `email`. */
  issue(email: string): string {
    const issued = this.clock().toString(36);
    const nonce = randomBytes(16).toString('base64url');
    const value = `v1.${issued}.${nonce}.${this.mac(this.keys[0]!, email, issued, nonce)}`;
    return serializeCookie(this.name, value, { path: '/', httpOnly: true, secure: this.https, sameSite: 'Strict', maxAge: LIFETIME_MS / 1000 });
  }

  /**
   * The device id (its nonce) if this request carries a valid, unexpired device cookie for `email`;
   * null otherwise (absent, forged, expired, or issued for another account). Never throws.
   */
  read(req: IncomingMessage, email: string): string | null {
    const value = parseCookieHeader(req.headers.cookie, this.name)[this.name];
    const m = value ? VALUE_RE.exec(value) : null;
    if (!m) return null;
    const [, issued, nonce, tag] = m as unknown as [string, string, string, string];
    const at = parseInt(issued, 36);
    const now = this.clock();
    if (!(at <= now && now - at < LIFETIME_MS)) return null;
    const got = Buffer.from(tag);
    for (const key of this.keys) {
      const want = Buffer.from(this.mac(key, email, issued, nonce));
      if (want.length === got.length && timingSafeEqual(want, got)) return nonce;
    }
    return null;
  }
}
