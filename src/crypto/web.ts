/**
 * WebCrypto implementation of {@link SessionCrypto} for edge runtimes (Cloudflare Workers,
 * Vercel Edge, Deno). Slower than node:crypto on Node, so Node uses `nodeCrypto` by default.
 *
 * @example
 * import { webCrypto } from 'sessionward/crypto/web'
 * const sessions = new SessionManager({ store, crypto: webCrypto, secrets: [key] })
 */
import type { SessionCrypto } from './types.js';

const enc = new TextEncoder();

import { toBase64Url } from '../lib/base64url.js';
export { toBase64Url };

const keyCache = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function hmacKey(key: Uint8Array): Promise<CryptoKey> {
  let k = keyCache.get(key);
  if (!k) {
    k = crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keyCache.set(key, k);
  }
  return k;
}

export const webCrypto: SessionCrypto = {
  randomToken(bytes) {
    const b = new Uint8Array(bytes);
    crypto.getRandomValues(b);
    return toBase64Url(b);
  },
  async sha256(input) {
    return toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(input))));
  },
  async hmac(key, input) {
    const sig = await crypto.subtle.sign('HMAC', await hmacKey(key), enc.encode(input));
    return toBase64Url(new Uint8Array(sig));
  },
  timingSafeEqual(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return diff === 0;
  },
};
