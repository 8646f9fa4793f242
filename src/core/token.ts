/**
 * Session tokens: 256 bits from the CSPRNG, base64url (SEC-1). The store id is the SHA-256 of the
 * token (SEC-21). With a key ring the cookie value is `<token>.<mac>`, MAC = HMAC-SHA256(key, token).
 */
import type { SessionCrypto } from '../crypto/types.js';

export const TOKEN_BYTES = 32;
const B64URL_43 = /^[A-Za-z0-9_-]{43}$/;

export function isWellFormedToken(t: string): boolean {
  return t.length === 43 && B64URL_43.test(t);
}

export interface ParsedCookieValue {
  token: string;
  /** Index of the key that verified the MAC (0 = newest); -1 when no key ring is configured. */
  keyIndex: number;
}

/**
 * Verify a cookie value against the key ring. Returns null for anything malformed or forged —
 * before any store lookup (SEC-3). Never throws.
 */
export async function verifyCookieValue(
  value: string,
  keys: readonly Uint8Array[],
  crypto: SessionCrypto,
): Promise<ParsedCookieValue | null> {
  if (keys.length === 0) return isWellFormedToken(value) ? { token: value, keyIndex: -1 } : null;
  if (value.length !== 87 || value.charCodeAt(43) !== 0x2e) return null;
  const token = value.slice(0, 43);
  const mac = value.slice(44);
  if (!isWellFormedToken(token) || !isWellFormedToken(mac)) return null;
  for (let i = 0; i < keys.length; i++) {
    if (crypto.timingSafeEqual(await crypto.hmac(keys[i]!, token), mac)) return { token, keyIndex: i };
  }
  return null;
}

export async function signToken(token: string, keys: readonly Uint8Array[], crypto: SessionCrypto): Promise<string> {
  return keys.length === 0 ? token : `${token}.${await crypto.hmac(keys[0]!, token)}`;
}
