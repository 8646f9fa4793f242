/**
 * @internal Public keys sent by clients (a DBSC device key, a DPoP key): validated, reduced to their
 * public members, thumbprinted (RFC 7638) and used to verify ES256 / RS256 signatures with
 * WebCrypto, so the same code runs on Node and edge runtimes.
 */
import { toBase64Url, fromBase64Url } from '../lib/base64url.js';

export type ProofAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA';
export type PublicJwk = Record<string, string>;

const B64 = /^[A-Za-z0-9_-]+$/;
const enc = new TextEncoder();

function b64(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max && B64.test(v);
}

/**
 * The public members of `jwk` if it is a key for `alg` (P-256 for ES256, RSA of 2048 to 8192 bits
 * for RS256/PS256, Ed25519 for EdDSA); null otherwise — also when it carries a private member
 * (`d`), which a client must never send.
 */
export function publicJwk(jwk: unknown, alg: ProofAlg): PublicJwk | null {
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) return null;
  const k = jwk as Record<string, unknown>;
  if ('d' in k) return null;
  if (alg === 'ES256') {
    if (k.kty !== 'EC' || k.crv !== 'P-256' || !b64(k.x, 43, 43) || !b64(k.y, 43, 43)) return null;
    return { kty: 'EC', crv: 'P-256', x: k.x, y: k.y };
  }
  if (alg === 'EdDSA') {
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || !b64(k.x, 43, 43)) return null;
    return { kty: 'OKP', crv: 'Ed25519', x: k.x };
  }
  if (k.kty !== 'RSA' || !b64(k.e, 2, 8) || !b64(k.n, 342, 1366)) return null;
  const n = fromBase64Url(k.n);
  if (!n || n.length < 256 || n[0] === 0) return null;
  return { kty: 'RSA', n: k.n, e: k.e };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a key from {@link publicJwk}. */
export async function thumbprint(jwk: PublicJwk): Promise<string> {
  // Required members only, in lexicographic order, no whitespace (RFC 7638 section 3.2).
  const members =
    jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  const digest = await crypto.subtle.digest('SHA-256', enc.encode(JSON.stringify(members)));
  return toBase64Url(new Uint8Array(digest));
}

function params(alg: ProofAlg): { imp: AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams; ver: AlgorithmIdentifier | EcdsaParams | RsaPssParams } {
  switch (alg) {
    case 'ES256': return { imp: { name: 'ECDSA', namedCurve: 'P-256' }, ver: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'RS256': return { imp: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, ver: { name: 'RSASSA-PKCS1-v1_5' } };
    case 'PS256': return { imp: { name: 'RSA-PSS', hash: 'SHA-256' }, ver: { name: 'RSA-PSS', saltLength: 32 } };
    case 'EdDSA': return { imp: { name: 'Ed25519' }, ver: { name: 'Ed25519' } };
  }
}

/**
 * Verify a JWS signature (RFC 7518 section 3: ES256 signatures are the raw r||s pair WebCrypto
 * expects). False on any failure, including a key WebCrypto refuses; never throws.
 */
export async function verifySignature(alg: ProofAlg, jwk: PublicJwk, signingInput: string, signature: Uint8Array): Promise<boolean> {
  if (alg === 'ES256' && signature.length !== 64) return false;
  try {
    const p = params(alg);
    const key = await crypto.subtle.importKey('jwk', jwk as JsonWebKey, p.imp, false, ['verify']);
    return await crypto.subtle.verify(p.ver, key, signature as BufferSource, enc.encode(signingInput));
  } catch {
    return false;
  }
}
