/**
 * AES-256-GCM sealing on node:crypto (the fast path on Node).
 *
 * Format: `v1.<kid>.<iv>.<ciphertext||tag>` (base64url parts, 96-bit random IV, 128-bit tag).
 * AAD = `v1.<kid>.<cookie name>`. The newest key seals, every key opens (SEC-10).
 *
 * IV uniqueness: a random 96-bit IV per seal is safe for up to ~2^32 seals per key (NIST SP
 * 800-38D §8.3); rotate keys well before that (docs/stateless.md).
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import {
  aadFor, HKDF_INFO, isCanonicalB64Url, normaliseKeys, splitSeal, SEAL_VERSION,
  type OpenFailure, type Opened, type SealKey, type Sealer,
} from './keys-common.js';

export type { SealKey, Sealer, Opened, OpenFailure } from './keys-common.js';

interface NodeKey {
  id: string;
  key: KeyObject;
}

/**
 * IVs from a pool of CSPRNG bytes (SEC-1), filled 256 IVs at a time: one call into OpenSSL's RNG
 * per seal was a sixth of a seal+unseal. Each slice is handed out once and a spent pool is
 * replaced, never refilled in place (earlier IVs may still be referenced), so no IV repeats.
 */
const IV_POOL = 12 * 256;
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function nextIv(): Buffer {
  if (ivAt + 12 > ivPool.length) {
    ivPool = randomBytes(IV_POOL);
    ivAt = 0;
  }
  ivAt += 12;
  return ivPool.subarray(ivAt - 12, ivAt);
}

/**
 * Node key ring. Build once at start-up (HKDF runs here); seal/open are then synchronous.
 *
 * @example
 * const ring = new NodeSealer([{ id: 'k2', key: process.env.SEAL_KEY_2! }, { id: 'k1', key: process.env.SEAL_KEY_1! }])
 * const s = ring.sealSync('__Host-s', JSON.stringify({ hello: 'world' }))
 * ring.openSync('__Host-s', s) // { payload: '{"hello":"world"}', kid: 'k2', stale: false }
 */
export class NodeSealer implements Sealer {
  readonly #keys: NodeKey[];
  readonly #byId = new Map<string, NodeKey>();

  constructor(keys: readonly SealKey[]) {
    this.#keys = normaliseKeys(keys).map((k) => {
      const raw = k.raw ?? new Uint8Array(hkdfSync('sha256', k.password!, k.salt!, HKDF_INFO, 32));
      return { id: k.id, key: createSecretKey(raw) };
    });
    for (const k of this.#keys) this.#byId.set(k.id, k);
  }

  // AAD buffers per (kid, cookie name): a handful per app, built once.
  readonly #aadCache = new Map<string, Buffer>();
  #aad(kid: string, name: string): Buffer {
    const s = aadFor(kid, name);
    let b = this.#aadCache.get(s);
    if (!b) {
      b = Buffer.from(s);
      if (this.#aadCache.size < 256) this.#aadCache.set(s, b);
    }
    return b;
  }

  get currentKid(): string {
    return this.#keys[0]!.id;
  }

  sealSync(name: string, payload: string): string {
    const k = this.#keys[0]!;
    const iv = nextIv();
    const c = createCipheriv('aes-256-gcm', k.key, iv);
    c.setAAD(this.#aad(k.id, name));
    const ct = Buffer.concat([c.update(payload, 'utf8'), c.final(), c.getAuthTag()]);
    return `${SEAL_VERSION}.${k.id}.${iv.toString('base64url')}.${ct.toString('base64url')}`;
  }

  openSync(name: string, sealed: string): Opened | OpenFailure {
    const p = splitSeal(sealed);
    if (!p) return 'malformed';
    const k = this.#byId.get(p.kid);
    if (!k) return 'unknown-key';
    const iv = Buffer.from(p.iv, 'base64url');
    const buf = Buffer.from(p.ct, 'base64url');
    // Non-canonical base64url (stray low bits) decodes to the same bytes; refuse it so that
    // every accepted seal has exactly one spelling (SEC-10: any flipped character is rejected).
    if (iv.length !== 12 || buf.length < 16 || !isCanonicalB64Url(p.ct) || !isCanonicalB64Url(p.iv)) return 'malformed';
    try {
      const d = createDecipheriv('aes-256-gcm', k.key, iv, { authTagLength: 16 });
      d.setAAD(this.#aad(k.id, name));
      d.setAuthTag(buf.subarray(buf.length - 16));
      const pt = Buffer.concat([d.update(buf.subarray(0, buf.length - 16)), d.final()]);
      return { payload: pt.toString('utf8'), kid: k.id, stale: k !== this.#keys[0] };
    } catch {
      return 'bad-seal';
    }
  }

  seal(name: string, payload: string): Promise<string> {
    try {
      return Promise.resolve(this.sealSync(name, payload));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  open(name: string, sealed: string): Promise<Opened | OpenFailure> {
    return Promise.resolve(this.openSync(name, sealed));
  }
}

/** 32 random bytes as base64url, for `{ id, key }` configuration. */
export function generateSealKey(): string {
  return randomBytes(32).toString('base64url');
}
