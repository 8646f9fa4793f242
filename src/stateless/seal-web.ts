/**
 * AES-256-GCM sealing on WebCrypto, for edge runtimes. Same format and keys as {@link NodeSealer}:
 * a cookie sealed by one opens with the other.
 *
 * @example
 * const ring = await WebSealer.create([{ id: 'k1', key: env.SEAL_KEY }])
 * const s = await ring.seal('__Host-s', '{"a":1}')
 */
import {
  aadFor, HKDF_INFO, isCanonicalB64Url, normaliseKeys, splitSeal, SEAL_VERSION,
  type OpenFailure, type Opened, type SealKey, type Sealer,
} from './keys-common.js';

import { toBase64Url, fromBase64Url } from '../lib/base64url.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });


interface WebKey {
  id: string;
  key: CryptoKey;
}

export class WebSealer implements Sealer {
  readonly #keys: WebKey[];
  readonly #byId = new Map<string, WebKey>();

  private constructor(keys: WebKey[]) {
    this.#keys = keys;
    for (const k of keys) this.#byId.set(k.id, k);
  }

  /** Validate (ConfigError) and import the key ring; HKDF derivation happens here, once. */
  static async create(keys: readonly SealKey[]): Promise<WebSealer> {
    const norm = normaliseKeys(keys);
    const out: WebKey[] = [];
    for (const k of norm) {
      let raw = k.raw;
      if (!raw) {
        const base = await crypto.subtle.importKey('raw', k.password as BufferSource, 'HKDF', false, ['deriveBits']);
        const bits = await crypto.subtle.deriveBits(
          { name: 'HKDF', hash: 'SHA-256', salt: k.salt as BufferSource, info: enc.encode(HKDF_INFO) },
          base,
          256,
        );
        raw = new Uint8Array(bits);
      }
      const key = await crypto.subtle.importKey('raw', raw as BufferSource, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
      out.push({ id: k.id, key });
    }
    return new WebSealer(out);
  }

  get currentKid(): string {
    return this.#keys[0]!.id;
  }

  async seal(name: string, payload: string): Promise<string> {
    const k = this.#keys[0]!;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: enc.encode(aadFor(k.id, name)), tagLength: 128 },
      k.key,
      enc.encode(payload),
    );
    return `${SEAL_VERSION}.${k.id}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ct))}`;
  }

  async open(name: string, sealed: string): Promise<Opened | OpenFailure> {
    const p = splitSeal(sealed);
    if (!p) return 'malformed';
    const k = this.#byId.get(p.kid);
    if (!k) return 'unknown-key';
    const iv = fromBase64Url(p.iv);
    const ct = fromBase64Url(p.ct);
    if (!iv || !ct || iv.length !== 12 || ct.length < 16 || !isCanonicalB64Url(p.ct) || !isCanonicalB64Url(p.iv)) return 'malformed';
    try {
      const pt = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: iv as BufferSource, additionalData: enc.encode(aadFor(k.id, name)), tagLength: 128 },
        k.key,
        ct as BufferSource,
      );
      return { payload: dec.decode(pt), kid: k.id, stale: k !== this.#keys[0] };
    } catch {
      return 'bad-seal';
    }
  }
}
