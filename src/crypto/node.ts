import { createHash, createHmac, randomBytes, timingSafeEqual as tse, createSecretKey, type KeyObject } from 'node:crypto';
import type { SessionCrypto } from './types.js';

// KeyObjects are cached per key buffer: building one per call costs more than the HMAC itself.
const keyCache = new WeakMap<Uint8Array, KeyObject>();
function keyObject(key: Uint8Array): KeyObject {
  let k = keyCache.get(key);
  if (!k) {
    k = createSecretKey(key);
    keyCache.set(key, k);
  }
  return k;
}

export function sha256Sync(input: string): string {
  return createHash('sha256').update(input).digest('base64url');
}

export function hmacSync(key: Uint8Array, input: string): string {
  return createHmac('sha256', keyObject(key)).update(input).digest('base64url');
}

export function timingSafeEqualStr(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) return false;
  return tse(ab, bb);
}

/** node:crypto implementation — the default on Node. */
export const nodeCrypto: SessionCrypto = {
  randomToken: (bytes) => randomBytes(bytes).toString('base64url'),
  sha256: (input) => Promise.resolve(sha256Sync(input)),
  hmac: (key, input) => Promise.resolve(hmacSync(key, input)),
  timingSafeEqual: timingSafeEqualStr,
};
