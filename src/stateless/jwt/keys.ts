/**
 * JWT key ring (SEC-27, SEC-28, SEC-31). A key's type decides which algorithms it may ever be
 * used with, so HS/RS confusion cannot happen: an RSA key never verifies an HMAC, and an HMAC
 * secret that is really key material (PEM, DER, JWK; string or bytes) is refused outright. Keys
 * come only from configuration or a pinned JWKS; tokens can never bring their own.
 */
import { createPublicKey, createPrivateKey, createSecretKey, KeyObject, type JsonWebKey } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { keyBytes } from '../../lib/key-errors.js';
import { looksLikeKeyMaterial } from './key-material.js';

export type HmacAlg = 'HS256' | 'HS384' | 'HS512';
export type JwsAlg = HmacAlg | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

export type JwtKeyInput =
  /** HMAC secret: bytes, or a UTF-8 string of at least 32 bytes (64 for HS512). */
  | { kid: string; secret: Uint8Array | string; algorithms?: HmacAlg[] }
  /** Asymmetric key: a KeyObject, a PEM string, or a JWK object. Private keys can sign; public keys only verify. */
  | { kid: string; key: KeyObject | string | JsonWebKey; algorithms?: JwsAlg[] };

export interface JwtKey {
  readonly kid: string;
  /** Allowed algorithms, never empty; the first one is used to sign. */
  readonly algorithms: readonly JwsAlg[];
  readonly kind: 'secret' | 'rsa' | 'rsa-pss' | 'ec' | 'ed25519';
  /** Secret or public key used to verify. */
  readonly verifyKey: KeyObject;
  /** Secret or private key, when this key can sign. */
  readonly signKey: KeyObject | null;
}

const HASH_BYTES: Record<HmacAlg, number> = { HS256: 32, HS384: 48, HS512: 64 };
const KID_RE = /^[\x21-\x7e]{1,128}$/;

function compatible(kind: JwtKey['kind'], k: KeyObject): JwsAlg[] {
  switch (kind) {
    case 'secret': {
      const n = k.symmetricKeySize ?? 0;
      return (['HS256', 'HS384', 'HS512'] as const).filter((a) => n >= HASH_BYTES[a]);
    }
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const c = k.asymmetricKeyDetails?.namedCurve;
      return c === 'prime256v1' ? ['ES256'] : c === 'secp384r1' ? ['ES384'] : c === 'secp521r1' ? ['ES512'] : [];
    }
    case 'ed25519':
      return ['EdDSA'];
  }
}

function toKeyObject(key: KeyObject | string | JsonWebKey, kid: string): KeyObject {
  if (key instanceof KeyObject) return key;
  try {
    if (typeof key === 'string') {
      if (!key.includes('-----BEGIN')) throw new ConfigError(`key ${kid}: a string key must be PEM; pass HMAC secrets as { secret }`);
      return key.includes('PRIVATE KEY') ? createPrivateKey(key) : createPublicKey(key);
    }
    if (key && typeof key === 'object') {
      if ((key as { kty?: string }).kty === 'oct') throw new ConfigError(`key ${kid}: pass HMAC secrets as { secret }, not as a JWK`);
      return 'd' in key ? createPrivateKey({ key, format: 'jwk' }) : createPublicKey({ key, format: 'jwk' });
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`key ${kid}: cannot be read as a key`);
  }
  throw new ConfigError(`key ${kid}: unsupported key material`);
}

/** Validate and prepare one key. Throws ConfigError on any weakness. */
export function importJwtKey(input: JwtKeyInput): JwtKey {
  if (!input || typeof input !== 'object') throw new ConfigError('a JWT key must be an object');
  const kid = input.kid;
  if (typeof kid !== 'string' || !KID_RE.test(kid)) throw new ConfigError('JWT key kid must be 1-128 printable ASCII characters');
  let kind: JwtKey['kind'];
  let verifyKey: KeyObject;
  let signKey: KeyObject | null;
  if ('secret' in input) {
    const s = input.secret;
    // SEC-31 (RFC 8725 §3.5): at least 256 bits.
    const bytes = keyBytes(s, `key ${kid}: the HMAC secret`, 32, 'jwt-hs256');
    // SEC-27: public key material as an HMAC secret lets anyone who reads the public key sign.
    if (looksLikeKeyMaterial(s)) throw new ConfigError(`key ${kid}: key material (PEM, DER, JWK) given as an HMAC secret (key confusion)`);
    kind = 'secret';
    verifyKey = signKey = createSecretKey(bytes);
  } else if ('key' in input) {
    const k = toKeyObject(input.key, kid);
    if (k.type === 'secret') throw new ConfigError(`key ${kid}: pass HMAC secrets as { secret }`);
    const t = k.asymmetricKeyType;
    if (t === 'rsa' || t === 'rsa-pss') {
      if ((k.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new ConfigError(`key ${kid}: RSA keys must be at least 2048 bits`);
      kind = t;
    } else if (t === 'ec') kind = 'ec';
    else if (t === 'ed25519') kind = 'ed25519';
    else throw new ConfigError(`key ${kid}: unsupported key type ${String(t)}`);
    signKey = k.type === 'private' ? k : null;
    verifyKey = k.type === 'private' ? createPublicKey(k) : k;
  } else throw new ConfigError(`key ${kid}: needs secret or key`);
  const allowed = compatible(kind, verifyKey);
  if (allowed.length === 0) throw new ConfigError(`key ${kid}: no algorithm fits this key`);
  const algorithms = input.algorithms ?? [allowed[0]!];
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new ConfigError(`key ${kid}: algorithms must be a non-empty list`);
  for (const a of algorithms) {
    // SEC-27: the key type decides the algorithm family; `none` is never in any list.
    if (!allowed.includes(a as JwsAlg)) throw new ConfigError(`key ${kid}: algorithm ${String(a)} does not fit this ${kind} key`);
  }
  return Object.freeze({ kid, algorithms: Object.freeze([...algorithms]) as readonly JwsAlg[], kind, verifyKey, signKey });
}

/**
 * Keys by kid. The first key that can sign is the signing key; every key verifies (rotation).
 *
 * @example
 * const ring = new JwtKeyRing([{ kid: '2025-06', secret: process.env.JWT_SECRET! }])
 */
export class JwtKeyRing {
  readonly #byKid = new Map<string, JwtKey>();
  readonly keys: readonly JwtKey[];

  constructor(inputs: ReadonlyArray<JwtKeyInput | JwtKey>) {
    if (!Array.isArray(inputs) || inputs.length === 0) throw new ConfigError('a JWT key ring needs at least one key');
    this.keys = inputs.map((i) => ('verifyKey' in i ? i : importJwtKey(i)));
    for (const k of this.keys) {
      if (this.#byKid.has(k.kid)) throw new ConfigError(`JWT key id ${k.kid} appears twice`);
      this.#byKid.set(k.kid, k);
    }
  }

  /** SEC-28: `kid` is only a map lookup; nothing in it is ever read as a path, URL or query. */
  get(kid: string): JwtKey | undefined {
    return this.#byKid.get(kid);
  }

  get signingKey(): JwtKey | undefined {
    return this.keys.find((k) => k.signKey !== null);
  }
}
