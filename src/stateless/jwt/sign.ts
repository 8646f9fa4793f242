/**
 * Compact JWS signing of access tokens (RFC 7515, RFC 9068 `at+jwt`), on node:crypto KeyObjects.
 */
import { createHmac, randomBytes, sign as cryptoSign } from 'node:crypto';
import { ConfigError, InvalidInputError } from '../../errors.js';
import { sha256Sync } from '../../crypto/node.js';
import { ALGS } from './algs.js';
import { JwtKeyRing, type JwtKey, type JwtKeyInput } from './keys.js';

export interface JwtSignerOptions {
  keys: JwtKeyRing | JwtKeyInput[];
  issuer: string;
  audience: string | string[];
  /** Header `typ`. Default `at+jwt` (RFC 9068); a refresh JWT would use another (SEC-30). */
  typ?: string;
  /** Lifetime in seconds. Default 900 (15 min); at most 1 day. */
  expiresIn?: number;
  now?: () => number;
}

export interface SignOptions {
  expiresIn?: number;
  /** SEC-32: raw fingerprint value (the cookie's); its SHA-256 goes into the `fph` claim. */
  fingerprint?: string;
  /** Sign with this key instead of the ring's first signing key. */
  kid?: string;
  /**
   * RFC 9449: bind the token to the client's DPoP key (its JWK thumbprint, as `DpopVerifier.verify`
   * returns it for the token request's proof): written as `cnf.jkt`, and a verifier then accepts the
   * token only with a proof signed by that key.
   */
  jkt?: string;
}

const REGISTERED = ['iss', 'aud', 'exp', 'iat', 'nbf', 'jti'];

function b64json(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

/**
 * @example
 * const signer = new JwtSigner({ keys: [{ kid: 'k1', secret }], issuer: 'https://id.example', audience: 'api' })
 * const token = signer.sign({ sub: 'user-1', sid: 'abc', scope: 'read' })
 */
export class JwtSigner {
  readonly ring: JwtKeyRing;
  readonly #o: JwtSignerOptions;
  readonly #typ: string;
  readonly #expiresIn: number;
  readonly #now: () => number;
  readonly #headers = new Map<string, string>();

  constructor(o: JwtSignerOptions) {
    this.ring = o.keys instanceof JwtKeyRing ? o.keys : new JwtKeyRing(o.keys);
    if (!this.ring.signingKey) throw new ConfigError('no key in the ring can sign (private key or secret needed)');
    if (typeof o.issuer !== 'string' || !o.issuer) throw new ConfigError('issuer is required');
    const aud = Array.isArray(o.audience) ? o.audience : [o.audience];
    if (aud.length === 0 || aud.some((a) => typeof a !== 'string' || !a)) throw new ConfigError('audience is required');
    this.#typ = o.typ ?? 'at+jwt';
    this.#expiresIn = o.expiresIn ?? 900;
    if (!Number.isInteger(this.#expiresIn) || this.#expiresIn <= 0 || this.#expiresIn > 86_400) throw new ConfigError('expiresIn must be 1..86400 seconds');
    this.#now = o.now ?? Date.now;
    this.#o = o;
  }

  #header(k: JwtKey): string {
    let h = this.#headers.get(k.kid);
    if (!h) {
      h = b64json({ alg: k.algorithms[0], typ: this.#typ, kid: k.kid });
      this.#headers.set(k.kid, h);
    }
    return h;
  }

  sign(claims: { sub: string } & Record<string, unknown>, so: SignOptions = {}): string {
    if (!claims || typeof claims.sub !== 'string' || claims.sub === '') throw new InvalidInputError('sub must be a non-empty string');
    for (const r of REGISTERED) if (r in claims) throw new InvalidInputError(`claim ${r} is set by the signer`);
    const k = so.kid ? this.ring.get(so.kid) : this.ring.signingKey;
    if (!k || !k.signKey) throw new InvalidInputError('no signing key with that kid');
    const nowMs = this.#now();
    // NumericDate may be fractional (RFC 7519 §2): iat to the millisecond, so a per-user cut-off
    // (SEC-37) tells a token issued just before it from one issued just after.
    const iat = nowMs / 1000;
    const exp = Math.floor(nowMs / 1000) + (so.expiresIn ?? this.#expiresIn);
    const payload: Record<string, unknown> = {
      iss: this.#o.issuer,
      aud: this.#o.audience,
      ...claims,
      iat,
      exp,
      jti: randomBytes(16).toString('base64url'),
    };
    if (so.fingerprint !== undefined) payload.fph = sha256Sync(so.fingerprint);
    if (so.jkt !== undefined) {
      if (typeof so.jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(so.jkt)) throw new InvalidInputError('jkt must be a JWK SHA-256 thumbprint (43 base64url characters)');
      payload.cnf = { jkt: so.jkt };
    }
    const input = `${this.#header(k)}.${b64json(payload)}`;
    const alg = k.algorithms[0]!;
    const p = ALGS[alg];
    const sig = p.hmac
      ? createHmac(p.hash!, k.signKey).update(input).digest()
      : cryptoSign(p.hash, Buffer.from(input), {
          key: k.signKey,
          ...(p.dsa ? { dsaEncoding: 'ieee-p1363' as const } : {}),
          ...(p.padding !== undefined ? { padding: p.padding, saltLength: p.saltLength } : {}),
        });
    return `${input}.${sig.toString('base64url')}`;
  }
}
