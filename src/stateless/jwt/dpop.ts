/**
 * DPoP (RFC 9449): proof of possession for JWT access tokens. A client signs a short JWT per
 * request with its own key; the access token names that key (`cnf.jkt`), so a stolen token is
 * useless without the key. Checks, in the order of RFC 9449 section 4.3: `typ` dpop+jwt, an
 * allow-listed asymmetric `alg`, an embedded public `jwk` (never a private one), the signature,
 * `htm`, `htu` (normalised, query and fragment ignored), `iat` within a window, optional server
 * `nonce` (section 8), `ath` (section 4.3 step 11), `cnf.jkt` (section 6), and a `jti` seen only
 * once — claimed with the store contract's insert-only `create`, so the replay cache is atomic on
 * every store (memory, SQLite, Redis, Redis Cluster, PostgreSQL) and across servers.
 *
 * @example
 * const dpop = new DpopVerifier({ store, nonce: { secret: process.env.DPOP_NONCE_KEY! } })
 * // token endpoint: bind the token to the proof's key
 * const { jkt } = await dpop.verify(req.headers.dpop, { method: 'POST', url: tokenUrl })
 * const accessToken = signer.sign({ sub }, { jkt })
 * // API: `new JwtVerifier({ ..., dpop })` checks the proof of a bound token itself
 * const claims = await verifier.verify(accessToken, { dpop: { proof: req.headers.dpop, method: req.method, url: fullUrl } })
 */
import { ConfigError, SessionwardError } from '../../errors.js';
import { nodeCrypto } from '../../crypto/node.js';
import type { SessionCrypto } from '../../crypto/types.js';
import type { SessionStore } from '../../stores/types.js';
import { newRecord } from '../../lib/record.js';
import { decodeJws } from '../../binding/jws.js';
import { publicJwk, thumbprint, verifySignature, type ProofAlg, type PublicJwk } from '../../binding/jwk.js';
import { toBase64Url } from '../../lib/base64url.js';
import { keyBytes } from '../../lib/key-errors.js';
import { TokenInvalidError } from '../errors.js';

export interface DpopVerifierOptions {
  /** Replay cache for `jti` (any sessionward store; its records carry no user). */
  store: SessionStore;
  /** Proof algorithms accepted (asymmetric only). Default `['ES256', 'RS256', 'PS256', 'EdDSA']`. */
  algorithms?: ProofAlg[];
  /** How old a proof's `iat` may be, ms (default 60 s); it may be this much in the future too, at most 5 s. */
  maxAgeMs?: number;
  /** Require server nonces (RFC 9449 section 8), MACed with `secret` (at least 32 bytes), valid `lifetimeMs` (default 5 min). */
  nonce?: { secret: string | Uint8Array; lifetimeMs?: number };
  crypto?: SessionCrypto;
  now?: () => number;
}

export interface DpopRequest {
  /** The request's method (`htm` must equal it). */
  method: string;
  /** The full request URL as the client addressed it (`htu`; query and fragment ignored). */
  url: string;
  /** The access token the proof comes with: its hash must be the proof's `ath`. */
  accessToken?: string;
  /** The access token's `cnf.jkt`: the proof's key must have this thumbprint. */
  jkt?: string;
}

export interface DpopProof {
  jkt: string;
  jwk: PublicJwk;
  jti: string;
  iat: number;
}

/**
 * The server wants a (new) nonce (RFC 9449 section 8): answer 401 with its headers,
 * `WWW-Authenticate: DPoP error="use_dpop_nonce"` and `DPoP-Nonce`, and the client retries.
 */
export class DpopNonceError extends SessionwardError {
  override readonly headers: ReadonlyArray<readonly [string, string]>;
  constructor(nonce: string) {
    super('ERR_DPOP_NONCE', 'DPoP nonce required', 401);
    this.headers = [['www-authenticate', 'DPoP error="use_dpop_nonce"'], ['dpop-nonce', nonce], ['cache-control', 'no-store']];
  }
}

const ALGS: ProofAlg[] = ['ES256', 'RS256', 'PS256', 'EdDSA'];
const FUTURE_MS = 5_000;
const NONCE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

/** RFC 9449 section 4.3 step 9 with RFC 3986 section 6 normalisation: scheme, host, port, path; no query or fragment. */
function normalisedHtu(u: unknown): string | null {
  if (typeof u !== 'string' || u.length > 4096) return null;
  try {
    const url = new URL(u);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    return `${url.origin}${url.pathname}`;
  } catch {
    return null;
  }
}

export class DpopVerifier {
  private readonly store: SessionStore;
  private readonly algs: ProofAlg[];
  private readonly maxAge: number;
  private readonly nonceKey: Uint8Array | null;
  private readonly nonceLifetime: number;
  private readonly crypto: SessionCrypto;
  private readonly now: () => number;

  constructor(o: DpopVerifierOptions) {
    if (!o?.store) throw new ConfigError('DPoP needs a store for its jti replay cache');
    this.algs = o.algorithms ?? ALGS;
    if (this.algs.length === 0 || this.algs.some((a) => !ALGS.includes(a))) throw new ConfigError(`DPoP algorithms must be among ${ALGS.join(', ')}`);
    this.maxAge = o.maxAgeMs ?? 60_000;
    if (!(this.maxAge >= 1_000 && this.maxAge <= 600_000)) throw new ConfigError('DPoP maxAgeMs must be between 1000 and 600000');
    if (o.nonce) {
      this.nonceKey = keyBytes(o.nonce.secret, 'DPoP nonce secret', 32, 'session');
    } else this.nonceKey = null;
    this.nonceLifetime = o.nonce?.lifetimeMs ?? 5 * 60_000;
    this.store = o.store;
    this.crypto = o.crypto ?? nodeCrypto;
    this.now = o.now ?? Date.now;
  }

  /** A fresh server nonce for the `DPoP-Nonce` header. */
  async nonce(): Promise<string> {
    if (!this.nonceKey) throw new ConfigError('DPoP nonces are not configured');
    const t = this.now().toString(36);
    return `${t}.${await this.crypto.hmac(this.nonceKey, `dpop-nonce:${t}`)}`;
  }

  private async nonceOk(v: unknown, now: number): Promise<boolean> {
    if (typeof v !== 'string') return false;
    const m = NONCE.exec(v);
    if (!m) return false;
    const t = parseInt(m[1]!, 36);
    if (!(t <= now + FUTURE_MS && now - t <= this.nonceLifetime)) return false;
    return this.crypto.timingSafeEqual(await this.crypto.hmac(this.nonceKey!, `dpop-nonce:${m[1]}`), m[2]!);
  }

  /**
   * Verify the `DPoP` header of one request. Throws TokenInvalidError (401, nothing about why) for
   * any failed check or a replayed proof, DpopNonceError when a fresh server nonce is needed.
   */
  async verify(proof: unknown, req: DpopRequest): Promise<DpopProof> {
    const jws = decodeJws(proof);
    if (!jws) throw new TokenInvalidError();
    const { header, payload } = jws;
    if (header.typ !== 'dpop+jwt') throw new TokenInvalidError();
    const alg = header.alg as ProofAlg;
    if (typeof alg !== 'string' || !this.algs.includes(alg)) throw new TokenInvalidError();
    const jwk = publicJwk(header.jwk, alg);
    if (!jwk) throw new TokenInvalidError();
    if (!(await verifySignature(alg, jwk, jws.signingInput, jws.signature))) throw new TokenInvalidError();
    if (typeof payload.htm !== 'string' || payload.htm !== req.method) throw new TokenInvalidError();
    const htu = normalisedHtu(payload.htu);
    if (htu === null || htu !== normalisedHtu(req.url)) throw new TokenInvalidError();
    const now = this.now();
    const iat = payload.iat;
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new TokenInvalidError();
    const iatMs = iat * 1000;
    if (iatMs > now + FUTURE_MS || now - iatMs > this.maxAge) throw new TokenInvalidError();
    if (this.nonceKey && !(await this.nonceOk(payload.nonce, now))) throw new DpopNonceError(await this.nonce());
    if (req.accessToken !== undefined) {
      const ath = toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(req.accessToken))));
      if (typeof payload.ath !== 'string' || !this.crypto.timingSafeEqual(payload.ath, ath)) throw new TokenInvalidError();
    }
    const jkt = await thumbprint(jwk);
    if (req.jkt !== undefined && (typeof req.jkt !== 'string' || !this.crypto.timingSafeEqual(req.jkt, jkt))) throw new TokenInvalidError();
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) throw new TokenInvalidError();
    // Kept until the proof could no longer pass the iat window; insert-only, so one winner.
    if (!(await this.claim(`dpop-jti:${jkt}:${jti}`, Math.max(now, iatMs) + this.maxAge + FUTURE_MS, now))) throw new TokenInvalidError();
    return { jkt, jwk, jti, iat };
  }

  private async claim(key: string, expiresAt: number, now: number): Promise<boolean> {
    return this.store.create(newRecord({ id: await this.crypto.sha256(key), now, expiresAt }));
  }
}
