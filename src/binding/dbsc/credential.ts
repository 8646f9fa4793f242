/**
 * @internal The short-lived bound cookie: `<expires, base36>.<mac>` over the binding's session
 * identifier. Its lifetime is enforced here, on the server: a copy replayed after it (a stolen
 * cookie has no device key to refresh with) is refused whatever expiry the client gives it.
 */
import type { SessionCrypto } from '../../crypto/types.js';

export type CredentialCheck = 'ok' | 'expired' | 'invalid';

const SHAPE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

function input(sid: string, exp: string): string {
  return `sw-dbsc-cookie:${sid}:${exp}`;
}

export async function mintCredential(c: SessionCrypto, key: Uint8Array, sid: string, expiresAt: number): Promise<string> {
  const exp = expiresAt.toString(36);
  return `${exp}.${await c.hmac(key, input(sid, exp))}`;
}

export async function checkCredential(c: SessionCrypto, keys: readonly Uint8Array[], sid: string, value: string, now: number): Promise<CredentialCheck> {
  const m = SHAPE.exec(value);
  if (!m) return 'invalid';
  let ok = false;
  for (const k of keys) if (c.timingSafeEqual(await c.hmac(k, input(sid, m[1]!)), m[2]!)) ok = true;
  if (!ok) return 'invalid';
  return parseInt(m[1]!, 36) > now ? 'ok' : 'expired';
}
