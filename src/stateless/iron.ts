/**
 * Read-only support for iron-session cookies (`Fe26.2` seals, iron-session 6-8), so an app can
 * move to sealed sessions without logging everyone out: an iron cookie is opened once with the
 * old password(s) and re-sealed in our format. We never write this format.
 *
 * Format (learned from iron-webcrypto's `unseal`): eight `*`-separated fields
 *   `Fe26.2*<passwordId>*<encSalt>*<iv>*<ciphertext>*<expiresMs>*<macSalt>*<mac>`
 * optionally followed by `~<n>` (iron-session's own major version; 2 = data at top level, none =
 * data under `persistent`). Keys are PBKDF2-SHA1(password, salt-as-text, 1 iteration, 32 bytes);
 * the MAC is HMAC-SHA256 over the first six fields; encryption is AES-256-CBC.
 * WebCrypto is used so the same reader runs on edge runtimes.
 */
import { parseJsonObject } from './util.js';
import { isCanonicalB64Url } from './keys-common.js';
import { fromBase64Url } from '../lib/base64url.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const B64 = /^[A-Za-z0-9_-]+$/;
const SALT = /^[0-9a-f]{16,128}$/;

export interface IronReadOptions {
  /** iron-session's `password`: one string, or `{ id: password }` as iron-session takes it. */
  password: string | Record<string, string>;
  /** Skew iron allows past the seal's expiry, in seconds (iron's own default is 60). */
  skewSeconds?: number;
  now?: number;
}

/** A seal that opened, with what a one-time migration needs to refuse it afterwards. */
export interface OpenedIronSeal {
  data: Record<string, unknown>;
  /**
   * The seal's MAC, canonical base64url: one value per seal whatever its `~n` suffix, so it is
   * the seal's identity for replay denial.
   */
  mac: string;
  /** The first instant (ms) at which iron refuses the seal (expiry + skew), or null when it never expires. */
  deadUntil: number | null;
}

async function pbkdf2(password: string, salt: string, usage: 'hmac' | 'aes'): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', enc.encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: enc.encode(salt), iterations: 1 }, base, 256);
  return usage === 'hmac'
    ? crypto.subtle.importKey('raw', bits, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    : crypto.subtle.importKey('raw', bits, { name: 'AES-CBC' }, false, ['decrypt']);
}

/** True when the value looks like an iron seal (cheap check before any crypto). */
export function isIronSeal(value: string): boolean {
  return typeof value === 'string' && value.startsWith('Fe26.2*');
}

/**
 * Open an iron-session cookie value. Returns the session data, or null for anything that is not a
 * valid, unexpired seal under one of the passwords. Never throws.
 *
 * @example
 * const data = await readIronSeal(cookieValue, { password: process.env.IRON_PASSWORD! })
 */
export async function readIronSeal(value: string, o: IronReadOptions): Promise<Record<string, unknown> | null> {
  return (await openIronSeal(value, o))?.data ?? null;
}

/** {@link readIronSeal} plus the seal's identity and lifetime, for the one-time migration. */
export async function openIronSeal(value: string, o: IronReadOptions): Promise<OpenedIronSeal | null> {
  try {
    if (!isIronSeal(value) || value.length > 16 * 1024) return null;
    const tilde = value.indexOf('~');
    const sealed = tilde === -1 ? value : value.slice(0, tilde);
    const major = tilde === -1 ? null : value.slice(tilde + 1);
    if (major !== null && !/^\d{1,3}$/.test(major)) return null;
    const parts = sealed.split('*');
    if (parts.length !== 8) return null;
    const [prefix, pid, encSalt, ivB64, ctB64, expiration, macSalt, mac] = parts as [string, string, string, string, string, string, string, string];
    if (prefix !== 'Fe26.2' || !SALT.test(encSalt) || !SALT.test(macSalt)) return null;
    if (!B64.test(ivB64) || !B64.test(ctB64) || !B64.test(mac) || !/^\w*$/.test(pid)) return null;
    let deadUntil: number | null = null;
    if (expiration !== '') {
      if (!/^\d{1,16}$/.test(expiration)) return null;
      deadUntil = Number(expiration) + (o.skewSeconds ?? 60) * 1000;
      if (deadUntil <= (o.now ?? Date.now())) return null;
    }
    const passwords = typeof o.password === 'string' ? { [pid || 'default']: o.password } : o.password;
    const password = Object.prototype.hasOwnProperty.call(passwords, pid || 'default') ? passwords[pid || 'default'] : undefined;
    if (typeof password !== 'string' || password.length < 32) return null;
    const macBytes = fromBase64Url(mac);
    const iv = fromBase64Url(ivB64);
    const ct = fromBase64Url(ctB64);
    if (!macBytes || !iv || !ct || iv.length !== 16 || ct.length === 0 || ct.length % 16 !== 0) return null;
    // The MAC is checked as bytes, and decoders ignore the unused low bits of the last character:
    // without this, 4 spellings of one seal would open (and a one-time migration would run 4 times).
    if (macBytes.length !== 32 || !isCanonicalB64Url(mac)) return null;
    const base = parts.slice(0, 6).join('*');
    // crypto.subtle.verify compares in constant time.
    const ok = await crypto.subtle.verify('HMAC', await pbkdf2(password, macSalt, 'hmac'), macBytes as BufferSource, enc.encode(base));
    if (!ok) return null;
    const pt = await crypto.subtle.decrypt({ name: 'AES-CBC', iv: iv as BufferSource }, await pbkdf2(password, encSalt, 'aes'), ct as BufferSource);
    const obj = parseJsonObject(dec.decode(pt));
    if (!obj) return null;
    // iron-session before v7 kept data under `persistent`.
    const persistent = obj.persistent;
    const data = major === '2' ? obj : persistent && typeof persistent === 'object' && !Array.isArray(persistent) ? { ...(persistent as Record<string, unknown>) } : {};
    return { data, mac, deadUntil };
  } catch {
    return null;
  }
}
