/**
 * Strict compact-JWS verification of access tokens (RFC 7515, RFC 8725, RFC 9068).
 *
 * Order: size and shape -> header (alg allow-listed for THIS key, typ, no crit/b64) -> signature
 * -> claims (exp, nbf, iat, iss, aud, sub) -> fingerprint -> DPoP binding -> revocation. Anything wrong is a
 * TokenInvalidError with the same vague message; only a genuine, expired token gets
 * TokenExpiredError, and a genuine revoked one TokenRevokedError.
 */
import { createHmac, verify as cryptoVerify } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { sha256Sync, timingSafeEqualStr } from '../../crypto/node.js';
import { TokenExpiredError, TokenInvalidError, TokenRevokedError } from '../errors.js';
import type { OnStatelessEvent } from '../events.js';
import type { Revocation } from '../revocation.js';
import type { DpopVerifier } from './dpop.js';
import { emit } from '../util.js';
import { isCanonicalB64Url } from '../keys-common.js';
import { ALGS, normTyp } from './algs.js';
import { JwtKeyRing, type JwsAlg, type JwtKey, type JwtKeyInput } from './keys.js';

export interface JwtVerifierOptions {
  keys: JwtKeyRing | JwtKeyInput[];
  /** Accepted `iss` value(s). Required. */
  issuer: string | string[];
  /** This API's audience value(s); the token's `aud` must contain one. Required. */
  audience: string | string[];
  /** Required header `typ`. Default `at+jwt`; a token of any other type (e.g. a refresh JWT) is refused (SEC-30). */
  typ?: string;
  /** Clock skew allowed on exp/nbf/iat, seconds. Default 30, at most 300 (SEC-29). */
  clockTolerance?: number;
  /** Reject tokens whose `iat` is older than this many seconds (optional). */
  maxAge?: number;
  /** Longest token accepted, characters. Default 8192. */
  maxTokenLength?: number;
  /** SEC-32: refuse tokens that carry no fingerprint hash. */
  requireFingerprint?: boolean;
  /** SEC-37: denylist by (iss, jti) and per-user cut-off; checked by `verify` (async) only. */
  revocation?: Revocation;
  /**
   * RFC 9449: checks the `DPoP` proof of a sender-constrained token (one with `cnf.jkt`). Without it
   * such a token is refused: a DPoP-bound token is never accepted as a bearer token (section 7.1).
   */
  dpop?: DpopVerifier;
  /** Refuse tokens that are not DPoP-bound (no `cnf.jkt`): this API takes sender-constrained tokens only. */
  requireDpop?: boolean;
  now?: () => number;
  onEvent?: OnStatelessEvent;
}

/** The request a DPoP-bound token came with (RFC 9449 section 4.3). */
export interface DpopRequestContext {
  /** The raw `DPoP` request header (undefined when the client sent none: refused). */
  proof: unknown;
  /** The request's method. */
  method: string;
  /** The full URL the client addressed (behind a proxy: the public one, not the internal one). */
  url: string;
}

export interface VerifyOptions {
  /** SEC-32: the raw value of the fingerprint cookie of this request. */
  fingerprint?: string | null;
  /** Require this exact `sub`. */
  subject?: string;
  /** The request's DPoP proof; needed for a DPoP-bound token (`verify` only: the replay check is async). */
  dpop?: DpopRequestContext;
}

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat?: number;
  nbf?: number;
  jti?: string;
  [claim: string]: unknown;
}

interface Header {
  key: JwtKey;
  alg: JwsAlg;
}

const SEG_RE = /^[A-Za-z0-9_-]+$/;
const HEADER_CACHE_MAX = 64;

function invalid(): TokenInvalidError {
  return new TokenInvalidError();
}

function decodeJson(seg: string): Record<string, unknown> | null {
  if (!SEG_RE.test(seg)) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/**
 * @example
 * const verifier = new JwtVerifier({ keys: [{ kid: 'k1', secret }], issuer: 'https://id.example', audience: 'api' })
 * const claims = await verifier.verify(bearerToken, { fingerprint: cookies['__Host-fgp'] })
 */
export class JwtVerifier {
  #ring: JwtKeyRing;
  readonly #issuers: readonly string[];
  readonly #audiences: readonly string[];
  readonly #typ: string;
  readonly #tol: number;
  readonly #maxAge: number | undefined;
  readonly #maxLen: number;
  readonly #requireFph: boolean;
  readonly #revocation: Revocation | undefined;
  readonly #dpop: DpopVerifier | undefined;
  readonly #requireDpop: boolean;
  readonly #now: () => number;
  readonly #onEvent: OnStatelessEvent | undefined;
  // Parsed headers of tokens that verified: the same few headers repeat on every request.
  readonly #headerCache = new Map<string, Header>();

  constructor(o: JwtVerifierOptions) {
    this.#ring = o.keys instanceof JwtKeyRing ? o.keys : new JwtKeyRing(o.keys);
    const list = (v: string | string[] | undefined, name: string): string[] => {
      const a = v === undefined ? [] : Array.isArray(v) ? v : [v];
      if (a.length === 0 || a.some((x) => typeof x !== 'string' || x === '')) throw new ConfigError(`${name} is required`);
      return a;
    };
    this.#issuers = list(o.issuer, 'issuer');
    this.#audiences = list(o.audience, 'audience');
    this.#typ = normTyp(o.typ ?? 'at+jwt');
    const tol = o.clockTolerance ?? 30;
    if (!Number.isFinite(tol) || tol < 0 || tol > 300) throw new ConfigError('clockTolerance must be 0..300 seconds');
    this.#tol = tol;
    if (o.maxAge !== undefined && (!Number.isFinite(o.maxAge) || o.maxAge <= 0)) throw new ConfigError('maxAge must be positive seconds');
    this.#maxAge = o.maxAge;
    this.#maxLen = o.maxTokenLength ?? 8192;
    this.#requireFph = o.requireFingerprint === true;
    this.#revocation = o.revocation;
    this.#dpop = o.dpop;
    this.#requireDpop = o.requireDpop === true;
    if (this.#requireDpop && !this.#dpop) throw new ConfigError('requireDpop needs a dpop verifier (new DpopVerifier({ store }))');
    this.#now = o.now ?? Date.now;
    this.#onEvent = o.onEvent;
  }

  get ring(): JwtKeyRing {
    return this.#ring;
  }

  /**
   * Swap the key ring atomically (key rotation from a re-fetched pinned JWKS).
   *
   * @example
   * verifier.setKeys(jwksKeyRing(await fetchJwks(PINNED_URL)))
   */
  setKeys(keys: JwtKeyRing | JwtKeyInput[]): void {
    this.#ring = keys instanceof JwtKeyRing ? keys : new JwtKeyRing(keys);
    this.#headerCache.clear();
  }

  #header(seg: string): Header {
    const cached = this.#headerCache.get(seg);
    if (cached) return cached;
    const h = decodeJson(seg);
    if (!h) throw invalid();
    const alg = h.alg;
    // RFC 7515 §4.1.11: extensions we do not understand make the token invalid; `b64` (RFC 7797) too.
    if (typeof alg !== 'string' || 'crit' in h || 'b64' in h) throw invalid();
    if (typeof h.typ !== 'string' || normTyp(h.typ) !== this.#typ) throw invalid();
    let key: JwtKey | undefined;
    if (h.kid === undefined) key = this.#ring.keys.length === 1 ? this.#ring.keys[0] : undefined;
    else if (typeof h.kid === 'string') key = this.#ring.get(h.kid);
    // SEC-27: the algorithm must be one THIS key allows; `none` never is.
    if (!key || !key.algorithms.includes(alg as JwsAlg)) throw invalid();
    // jwk / jku / x5u / x5c / x5t are never read (SEC-28).
    return { key, alg: alg as JwsAlg };
  }

  /**
   * Signature and claims, synchronously (no revocation check). Throws typed errors only. A
   * DPoP-bound token is refused here: its proof's replay check needs the store, so use `verify`.
   */
  verifySync(token: string, vo: VerifyOptions = {}): AccessTokenClaims {
    try {
      const c = this.#verify(token, vo);
      if (c.cnf !== undefined || this.#requireDpop) throw invalid();
      return c;
    } catch (e) {
      if (e instanceof TokenInvalidError) emit(this.#onEvent, { type: 'token.invalid', tokenHash: typeof token === 'string' ? sha256Sync(token) : '' });
      throw e;
    }
  }

  #verify(token: string, vo: VerifyOptions): AccessTokenClaims {
    if (typeof token !== 'string' || token.length > this.#maxLen) throw invalid();
    const d1 = token.indexOf('.');
    const d2 = d1 === -1 ? -1 : token.indexOf('.', d1 + 1);
    if (d1 <= 0 || d2 <= d1 + 1 || token.indexOf('.', d2 + 1) !== -1 || d2 === token.length - 1) throw invalid();
    const hSeg = token.slice(0, d1);
    const h = this.#header(hSeg);
    const sig = token.slice(d2 + 1);
    if (!SEG_RE.test(sig)) throw invalid();
    const input = token.slice(0, d2);
    const p = ALGS[h.alg];
    let ok: boolean;
    if (p.hmac) {
      // Compare canonical base64url text in constant time: one spelling per valid signature.
      ok = timingSafeEqualStr(createHmac(p.hash!, h.key.verifyKey).update(input).digest('base64url'), sig);
    } else {
      const sigBytes = Buffer.from(sig, 'base64url');
      if ((p.sigLength !== undefined && sigBytes.length !== p.sigLength) || !isCanonicalB64Url(sig)) throw invalid();
      ok = cryptoVerify(
        p.hash,
        Buffer.from(input),
        {
          key: h.key.verifyKey,
          ...(p.dsa ? { dsaEncoding: 'ieee-p1363' as const } : {}),
          ...(p.padding !== undefined ? { padding: p.padding, saltLength: p.saltLength } : {}),
        },
        sigBytes,
      );
    }
    if (!ok) throw invalid();
    if (!this.#headerCache.has(hSeg) && this.#headerCache.size < HEADER_CACHE_MAX) this.#headerCache.set(hSeg, h);
    const c = decodeJson(token.slice(d1 + 1, d2));
    if (!c) throw invalid();
    return this.#claims(c, vo);
  }

  #claims(c: Record<string, unknown>, vo: VerifyOptions): AccessTokenClaims {
    const now = this.#now() / 1000;
    const tol = this.#tol;
    const { exp, nbf, iat, iss, aud, sub, jti } = c;
    // SEC-29 (RFC 8725 §3.8/3.9).
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalid();
    if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf) || nbf > now + tol)) throw invalid();
    if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat) || iat > now + tol)) throw invalid();
    if (typeof iss !== 'string' || !this.#issuers.includes(iss)) throw invalid();
    if (typeof aud === 'string') {
      if (!this.#audiences.includes(aud)) throw invalid();
    } else if (Array.isArray(aud) && aud.length > 0 && aud.length <= 32) {
      let hit = false;
      for (const a of aud) {
        if (typeof a !== 'string') throw invalid();
        if (this.#audiences.includes(a)) hit = true;
      }
      if (!hit) throw invalid();
    } else throw invalid();
    if (typeof sub !== 'string' || sub === '' || sub.length > 1024) throw invalid();
    if (vo.subject !== undefined && sub !== vo.subject) throw invalid();
    if (jti !== undefined && (typeof jti !== 'string' || jti === '' || jti.length > 256)) throw invalid();
    // SEC-32: the fingerprint hash in the token must match the cookie sent with this request.
    const fph = c.fph;
    if (fph !== undefined || this.#requireFph) {
      if (typeof fph !== 'string' || typeof vo.fingerprint !== 'string' || vo.fingerprint === '') throw invalid();
      if (!timingSafeEqualStr(sha256Sync(vo.fingerprint), fph)) throw invalid();
    }
    if (now >= exp + tol) throw new TokenExpiredError();
    if (this.#maxAge !== undefined && (typeof iat !== 'number' || now - iat > this.#maxAge + tol)) throw new TokenExpiredError();
    return c as AccessTokenClaims;
  }

  /**
   * Full verification including revocation (SEC-37): one store read at most (or none when the
   * revocation cache is warm).
   */
  async verify(token: string, vo: VerifyOptions = {}): Promise<AccessTokenClaims> {
    let c: AccessTokenClaims;
    try {
      c = this.#verify(token, vo);
      await this.#sender(token, c, vo);
    } catch (e) {
      if (e instanceof TokenInvalidError) emit(this.#onEvent, { type: 'token.invalid', tokenHash: typeof token === 'string' ? sha256Sync(token) : '' });
      throw e;
    }
    if (this.#revocation) {
      if (typeof c.jti !== 'string') throw invalid();
      // iat as written: our signer writes it to the millisecond. A whole-second iat (another
      // issuer) counts from the start of its second, so a token issued before a cut-off is never
      // taken for one issued after it (revocation wins; one minted later in that same second is
      // refused too, and a refresh replaces it).
      const issuedAt = typeof c.iat === 'number' ? c.iat * 1000 : 0;
      // A refresh family revoked for theft denylists its session id: its access tokens die too (SEC-33).
      const sid = (c as { sid?: unknown }).sid;
      const alsoIds = typeof sid === 'string' ? [sid] : undefined;
      if (await this.#revocation.isRevoked({ id: `${c.iss}|${c.jti}`, userId: c.sub, issuedAt, alsoIds })) {
        emit(this.#onEvent, { type: 'token.revoked', tokenHash: sha256Sync(token), subHash: sha256Sync(c.sub) });
        throw new TokenRevokedError();
      }
    }
    return c;
  }

  /**
   * RFC 9449 section 7.1: a token bound to a key (`cnf.jkt`) counts only with a proof signed by that
   * key, for this request, over this token (`ath`), used once. A `cnf` that is not exactly a
   * thumbprint is refused rather than ignored: ignoring it would turn a bound token into a bearer one.
   */
  async #sender(token: string, c: AccessTokenClaims, vo: VerifyOptions): Promise<void> {
    const cnf = c.cnf;
    if (cnf === undefined) {
      if (this.#requireDpop) throw invalid();
      return;
    }
    const jkt = typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf) ? (cnf as { jkt?: unknown }).jkt : undefined;
    if (typeof jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(jkt)) throw invalid();
    if (!this.#dpop || !vo.dpop) throw invalid();
    await this.#dpop.verify(vo.dpop.proof, { method: vo.dpop.method, url: vo.dpop.url, accessToken: token, jkt });
  }

  /** Denylist this (already verified) token until its expiry. */
  async revoke(claims: AccessTokenClaims): Promise<void> {
    if (!this.#revocation) throw new ConfigError('revocation is not configured');
    if (typeof claims.jti !== 'string') throw new TokenInvalidError();
    await this.#revocation.revokeSession(`${claims.iss}|${claims.jti}`, (claims.exp + this.#tol) * 1000, claims.sub);
  }
}

