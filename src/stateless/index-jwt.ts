/**
 * `sessionward/jwt`: strict JWT access tokens on node:crypto, opaque rotating refresh tokens,
 * revocation and sidejacking fingerprints.
 *
 * @example
 * import { JwtSigner, JwtVerifier, RefreshTokens } from 'sessionward/jwt'
 * const keys = [{ kid: '2025-06', secret: process.env.JWT_SECRET! }]
 * const signer = new JwtSigner({ keys, issuer: 'https://id.example', audience: 'api' })
 * const verifier = new JwtVerifier({ keys, issuer: 'https://id.example', audience: 'api' })
 * const claims = await verifier.verify(signer.sign({ sub: 'u1', sid }))
 */
export { JwtKeyRing, importJwtKey } from './jwt/keys.js';
export type { JwsAlg, HmacAlg, JwtKey, JwtKeyInput } from './jwt/keys.js';
export { JwtSigner } from './jwt/sign.js';
export type { JwtSignerOptions, SignOptions } from './jwt/sign.js';
export { JwtVerifier } from './jwt/verify.js';
export type { JwtVerifierOptions, VerifyOptions, AccessTokenClaims, DpopRequestContext } from './jwt/verify.js';
export { publicJwks, importJwks, jwksKeyRing, fetchJwks } from './jwt/jwks.js';
export type { PublicJwk, FetchJwksOptions } from './jwt/jwks.js';
export { createFingerprint, FINGERPRINT_COOKIE } from './jwt/fingerprint.js';
export { RefreshTokens } from './refresh.js';
export type { RefreshTokenOptions, RefreshBinding, IssuedRefreshToken } from './refresh.js';
export { Revocation } from './revocation.js';
export { DpopVerifier, DpopNonceError } from './jwt/dpop.js';
export type { DpopVerifierOptions, DpopRequest, DpopProof } from './jwt/dpop.js';
export type { RevocationOptions, RevocationSubject } from './revocation.js';
export { TokenInvalidError, TokenExpiredError, TokenRevokedError, TokenReusedError, RefreshRaceError } from './errors.js';
export type { StatelessEvent, OnStatelessEvent } from './events.js';
