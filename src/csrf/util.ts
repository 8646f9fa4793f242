/** @internal Portable helpers (Node and edge runtimes): WebCrypto randomness, base64url, constant-time compare. */
import { toBase64Url, fromBase64Url as decode } from '../lib/base64url.js';

export { toBase64Url };

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Decode base64url; null for anything that is not strictly base64url. Never throws. */
export function fromBase64Url(s: string): Uint8Array | null {
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  const out = decode(s);
  // Refuse non-canonical encodings (stray low bits in the last character): one value, one spelling.
  return out && toBase64Url(out) === s ? out : null;
}

/** Constant-time string comparison (length is not secret: our tokens have fixed lengths). */
export function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** First value of a header that may repeat; undefined when absent. */
export function headerValue(v: string | string[] | undefined | null): string | undefined {
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v[0] : v;
}
