// Algorithm parameters for node:crypto (RFC 7518 §3). Internal.
import { constants } from 'node:crypto';
import type { JwsAlg } from './keys.js';

export interface AlgParams {
  hmac: boolean;
  /** Digest name for createHmac / crypto.sign; null for EdDSA. */
  hash: string | null;
  padding?: number;
  saltLength?: number;
  /** ECDSA signatures are raw r||s (IEEE P1363) in JWS, never DER (RFC 7518 §3.4). */
  dsa?: boolean;
  /** Exact signature length in bytes where it is fixed by the algorithm. */
  sigLength?: number;
}

export const ALGS: Readonly<Record<JwsAlg, AlgParams>> = Object.freeze({
  HS256: { hmac: true, hash: 'sha256', sigLength: 32 },
  HS384: { hmac: true, hash: 'sha384', sigLength: 48 },
  HS512: { hmac: true, hash: 'sha512', sigLength: 64 },
  RS256: { hmac: false, hash: 'sha256' },
  RS384: { hmac: false, hash: 'sha384' },
  RS512: { hmac: false, hash: 'sha512' },
  PS256: { hmac: false, hash: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  PS384: { hmac: false, hash: 'sha384', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
  PS512: { hmac: false, hash: 'sha512', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 },
  ES256: { hmac: false, hash: 'sha256', dsa: true, sigLength: 64 },
  ES384: { hmac: false, hash: 'sha384', dsa: true, sigLength: 96 },
  ES512: { hmac: false, hash: 'sha512', dsa: true, sigLength: 132 },
  EdDSA: { hmac: false, hash: null, sigLength: 64 },
});

/** Normalise a `typ` value for comparison (RFC 7515 §4.1.9: `application/` may be omitted, case-insensitive). */
export function normTyp(t: string): string {
  const l = t.toLowerCase();
  return l.startsWith('application/') ? l.slice(12) : l;
}
