/**
 * @internal A DBSC proof (`Secure-Session-Response`): a JWS with `typ: dbsc+jwt`, signed by the
 * device key, whose `jti` is the server's challenge. At registration the key comes in the header
 * (`jwk`); at refresh it is the registered key and any `jwk` in the header is ignored. Extra claims
 * of older drafts (`aud`, `iat`, `jwk`) are tolerated.
 */
import { decodeJws } from '../jws.js';
import { publicJwk, thumbprint, verifySignature, type PublicJwk } from '../jwk.js';

export type DbscAlg = 'ES256' | 'RS256';

export type ProofResult =
  | { ok: true; alg: DbscAlg; jwk: PublicJwk; jkt: string; jti: string }
  | { ok: false; reason: 'malformed' | 'typ' | 'alg' | 'key' | 'signature' };

/**
 * Verify `compact` with the registered key (`registered`) or, at registration, with the key in its
 * header, which must be for an algorithm in `algs`. The caller checks `jti` against its challenge.
 */
export async function verifyDbscProof(
  compact: unknown,
  algs: readonly DbscAlg[],
  registered: { alg: DbscAlg; jwk: PublicJwk } | null,
): Promise<ProofResult> {
  const jws = decodeJws(compact);
  if (!jws) return { ok: false, reason: 'malformed' };
  const { header, payload } = jws;
  if (header.typ !== 'dbsc+jwt') return { ok: false, reason: 'typ' };
  const alg = header.alg as DbscAlg;
  if (registered ? alg !== registered.alg : !algs.includes(alg)) return { ok: false, reason: 'alg' };
  // RFC 8725 3.10: a key in the header is only ever taken at registration, never to verify a refresh.
  const jwk = registered ? registered.jwk : publicJwk(header.jwk, alg);
  if (!jwk) return { ok: false, reason: 'key' };
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 512) return { ok: false, reason: 'malformed' };
  if (!(await verifySignature(alg, jwk, jws.signingInput, jws.signature))) return { ok: false, reason: 'signature' };
  return { ok: true, alg, jwk, jkt: await thumbprint(jwk), jti: payload.jti };
}
