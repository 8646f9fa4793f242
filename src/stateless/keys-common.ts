// Key-ring configuration shared by the node:crypto and WebCrypto sealers.
import { ConfigError } from '../errors.js';
import { exactKeyError, keygenHint } from '../lib/key-errors.js';

/**
 * One sealing key. Either 32 random bytes (`key`, as bytes or 43-char base64url), or a password of
 * at least 32 bytes stretched with HKDF-SHA256 under a per-key `salt` (at least 16 bytes; there is
 * deliberately no default salt).
 */
export type SealKey =
  | { id: string; key: Uint8Array | string }
  | { id: string; password: string; salt: string | Uint8Array };

export const SEAL_VERSION = 'v1';
export const KID_RE = /^[A-Za-z0-9_-]{1,16}$/;
/** HKDF `info`: binds derived keys to this format so the same password elsewhere yields another key. */
export const HKDF_INFO = 'sessionward sealed cookie v1';

export interface NormalisedKey {
  id: string;
  /** Raw 32-byte key, or undefined when it must be derived. */
  raw?: Uint8Array;
  password?: Uint8Array;
  salt?: Uint8Array;
}

const enc = new TextEncoder();

function decodeB64Url32(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(s)) return null;
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '=');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.length === 32 ? out : null;
}

/** Validate a key ring at start-up; every mistake is a ConfigError (SEC-10, SEC-31 spirit). */
export function normaliseKeys(keys: readonly SealKey[] | undefined): NormalisedKey[] {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError(`sealed sessions need at least one key in \`keys\` (newest first); ${keygenHint('sealed')}`);
  }
  const seen = new Set<string>();
  return keys.map((k, i) => {
    if (!k || typeof k !== 'object') throw new ConfigError(`key #${i} must be an object`);
    if (typeof k.id !== 'string' || !KID_RE.test(k.id)) throw new ConfigError(`key #${i}: id must be 1-16 characters of [A-Za-z0-9_-]`);
    if (seen.has(k.id)) throw new ConfigError(`key id ${k.id} appears twice`);
    seen.add(k.id);
    if ('key' in k) {
      const raw = typeof k.key === 'string' ? decodeB64Url32(k.key) : k.key instanceof Uint8Array ? k.key : null;
      if (!raw || raw.length !== 32) throw exactKeyError(k.key, `sealed key ${k.id}`, 'sealed');
      return { id: k.id, raw: new Uint8Array(raw) };
    }
    if ('password' in k) {
      if (typeof k.password !== 'string' || enc.encode(k.password).length < 32) {
        throw new ConfigError(`key ${k.id}: password must be at least 32 bytes; better, use a random key ({ id, key }): ${keygenHint('sealed')}`);
      }
      const salt = typeof k.salt === 'string' ? enc.encode(k.salt) : k.salt instanceof Uint8Array ? k.salt : null;
      if (!salt || salt.length < 16) throw new ConfigError(`key ${k.id}: a per-key salt of at least 16 bytes is required`);
      return { id: k.id, password: enc.encode(k.password), salt: new Uint8Array(salt) };
    }
    throw new ConfigError(`key ${String((k as { id?: unknown }).id)} needs either key or password+salt`);
  });
}

/** AAD binds the format version, the key id and the cookie name, so a seal cannot be moved between cookies. */
export function aadFor(kid: string, name: string): string {
  return `${SEAL_VERSION}.${kid}.${name}`;
}

/** Result of opening a seal. `stale` means an older key opened it: re-seal with the newest (SEC-10). */
export interface Opened {
  payload: string;
  kid: string;
  stale: boolean;
}

/** Why a seal failed to open, for events only; never shown to the client. */
export type OpenFailure = 'malformed' | 'unknown-key' | 'bad-seal';

/**
 * The sealing interface both runtimes implement: `seal` with the newest key, `open` with any key.
 * Async so the WebCrypto implementation fits; the node one resolves at once.
 */
export interface Sealer {
  readonly currentKid: string;
  seal(name: string, payload: string): Promise<string>;
  open(name: string, sealed: string): Promise<Opened | OpenFailure>;
}

/** Maximum seal length we even try to decode (a cookie set of a few chunks). */
export const MAX_SEAL_LENGTH = 64 * 1024;

/** Split `v1.<kid>.<iv>.<ct>`; null when the shape is wrong. */
export function splitSeal(sealed: string): { kid: string; iv: string; ct: string } | null {
  if (typeof sealed !== 'string' || sealed.length > MAX_SEAL_LENGTH) return null;
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== SEAL_VERSION) return null;
  const [, kid, iv, ct] = parts as [string, string, string, string];
  if (!KID_RE.test(kid) || iv.length !== 16 || ct.length < 22) return null;
  if (!/^[A-Za-z0-9_-]+$/.test(iv) || !/^[A-Za-z0-9_-]+$/.test(ct)) return null;
  return { kid, iv, ct };
}

const B64_VALUE: Record<string, number> = {};
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach((c, i) => (B64_VALUE[c] = i));

/**
 * True when an (alphabet-checked) base64url string is the one canonical spelling of its bytes:
 * decoders ignore the unused low bits of the last character, so without this check several
 * strings would open the same seal (SEC-10 wants any flipped character rejected).
 */
export function isCanonicalB64Url(s: string): boolean {
  const r = s.length % 4;
  if (r === 1) return false;
  if (r === 0) return true;
  const v = B64_VALUE[s[s.length - 1]!];
  if (v === undefined) return false;
  return r === 2 ? (v & 0x0f) === 0 : (v & 0x03) === 0;
}
