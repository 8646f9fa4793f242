/**
 * A corpus of hostile JWTs (RFC 8725; SEC-27..31): each is refused with a typed error and a vague
 * message, never a crash; key misconfiguration is a ConfigError at start-up.
 */
import { describe, expect, it } from 'vitest';
import { createHmac, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { ConfigError } from '../src/errors.js';
import { JwtSigner, JwtVerifier, JwtKeyRing, publicJwks, importJwks, TokenInvalidError, TokenExpiredError, type StatelessEvent } from '../src/stateless/index-jwt.js';

const NOW = Date.UTC(2026, 5, 1) ;
const now = (): number => NOW;
const secret = randomBytes(32);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const rsaPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const ecPem = ec.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const common = { issuer: 'https://id.example', audience: 'api', now };

const b64 = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
const t = Math.floor(NOW / 1000);
const goodClaims = { iss: 'https://id.example', aud: 'api', sub: 'u1', iat: t, exp: t + 600, jti: 'j1' };
const hs = (h: object, p: object, key: Uint8Array | string = secret): string => {
  const input = `${b64(h)}.${b64(p)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
};
const es = (h: object, p: object): string => {
  const input = `${b64(h)}.${b64(p)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};

const hsVerifier = new JwtVerifier({ keys: [{ kid: 'hs', secret }], ...common });
const rsVerifier = new JwtVerifier({ keys: [{ kid: 'rs', key: rsa.publicKey }], ...common });
const ecVerifier = new JwtVerifier({ keys: [{ kid: 'ec', key: ec.publicKey }], ...common });

function refused(v: JwtVerifier, token: unknown, code = 'ERR_TOKEN_INVALID'): void {
  let err: unknown;
  try {
    v.verifySync(token as string);
  } catch (e) {
    err = e;
  }
  expect(err, `accepted: ${String(token).slice(0, 80)}`).toBeDefined();
  expect(err).toMatchObject({ code });
  // Vague: the message never says which check failed.
  expect((err as Error).message).toMatch(/^(invalid token|token expired|token revoked)$/);
}

describe('baseline', () => {
  it('accepts a well-formed token of each algorithm family', () => {
    expect(hsVerifier.verifySync(hs({ alg: 'HS256', typ: 'at+jwt', kid: 'hs' }, goodClaims)).sub).toBe('u1');
    expect(ecVerifier.verifySync(es({ alg: 'ES256', typ: 'at+jwt', kid: 'ec' }, goodClaims)).sub).toBe('u1');
    for (const [kid, key] of [['rs', rsa.privateKey], ['ps', rsa.privateKey], ['ed', ed.privateKey]] as const) {
      const algorithms = kid === 'ps' ? (['PS256'] as const) : undefined;
      const keys = [{ kid, key, ...(algorithms ? { algorithms: [...algorithms] } : {}) }];
      const s = new JwtSigner({ keys, ...common });
      const v = new JwtVerifier({ keys, ...common });
      expect(v.verifySync(s.sign({ sub: 'u2' })).sub).toBe('u2');
    }
    expect(hsVerifier.verifySync(hs({ alg: 'HS256', typ: 'application/at+jwt', kid: 'hs' }, goodClaims)).sub).toBe('u1');
  });
});

describe('SEC-27: algorithm attacks', () => {
  it('SEC-27: alg none in any case is refused', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      for (const sig of ['', 'AAAA']) refused(hsVerifier, `${b64({ alg, typ: 'at+jwt', kid: 'hs' })}.${b64(goodClaims)}.${sig}`);
    }
  });

  it('SEC-27: HS256 signed with the RSA or EC public key PEM is refused (key confusion)', () => {
    refused(rsVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid: 'rs' }, goodClaims, rsaPem));
    refused(rsVerifier, hs({ alg: 'HS256', typ: 'at+jwt' }, goodClaims, rsaPem));
    refused(ecVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid: 'ec' }, goodClaims, ecPem));
  });

  it('SEC-27: an algorithm outside the key allow-list is refused (HS512 on an HS256 key, RS256 on an ES key)', () => {
    const input = `${b64({ alg: 'HS512', typ: 'at+jwt', kid: 'hs' })}.${b64(goodClaims)}`;
    refused(hsVerifier, `${input}.${createHmac('sha512', secret).update(input).digest('base64url')}`);
    const rsInput = `${b64({ alg: 'RS256', typ: 'at+jwt', kid: 'ec' })}.${b64(goodClaims)}`;
    refused(ecVerifier, `${rsInput}.${cryptoSign('sha256', Buffer.from(rsInput), rsa.privateKey).toString('base64url')}`);
  });

  it('SEC-27: a key type decides its algorithm family at configuration', () => {
    expect(() => new JwtKeyRing([{ kid: 'x', key: rsa.publicKey, algorithms: ['HS256' as never] }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', secret, algorithms: ['RS256' as never] }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', secret, algorithms: ['none' as never] }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', key: ec.publicKey, algorithms: ['ES384'] }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', secret: rsaPem }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', key: 'not a pem secret string of sufficient length' }])).toThrow(ConfigError);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => new JwtKeyRing([{ kid: 'x', key: small.publicKey }])).toThrow(ConfigError);
  });
});

describe('SEC-31: HMAC secret strength', () => {
  it('SEC-31: secrets under 256 bits are refused at configuration', () => {
    expect(() => new JwtKeyRing([{ kid: 'x', secret: randomBytes(31) }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', secret: 'short secret' }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', secret: randomBytes(32), algorithms: ['HS512'] }])).toThrow(ConfigError);
    expect(() => new JwtKeyRing([{ kid: 'x', secret: randomBytes(64), algorithms: ['HS512'] }])).not.toThrow();
  });
});

describe('SEC-28: embedded keys and kid', () => {
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
  const signWith = (h: object): string => {
    const input = `${b64(h)}.${b64(goodClaims)}`;
    return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: attacker.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };

  it('SEC-28: jwk, jku, x5u and x5c headers are ignored; the attacker key never verifies', () => {
    for (const extra of [
      { jwk: attackerJwk },
      { jku: 'https://attacker.example/jwks.json' },
      { x5u: 'https://attacker.example/cert.pem' },
      { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
    ]) {
      refused(ecVerifier, signWith({ alg: 'ES256', typ: 'at+jwt', kid: 'ec', ...extra }));
      refused(ecVerifier, signWith({ alg: 'ES256', typ: 'at+jwt', ...extra }));
    }
  });

  it('SEC-28: kid is only a lookup key (path traversal, SQL, unknown, non-string kids refused)', () => {
    for (const kid of ['../../../../dev/null', "' OR '1'='1", 'hs; DROP TABLE keys', '__proto__', 'constructor', 'unknown', 7, { a: 1 }, ['hs'], null]) {
      refused(hsVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid }, goodClaims, Buffer.alloc(32)));
      refused(hsVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid }, goodClaims));
    }
  });

  it('SEC-28: a pinned JWKS verifies; private or symmetric members are refused', () => {
    const signer = new JwtSigner({ keys: [{ kid: 'e1', key: ec.privateKey }, { kid: 'h', secret }], ...common });
    const jwks = publicJwks(signer.ring);
    expect(jwks.keys.map((k) => k.kid)).toEqual(['e1']);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const v = new JwtVerifier({ keys: importJwks(jwks), ...common });
    expect(v.verifySync(signer.sign({ sub: 'u' })).sub).toBe('u');
    const priv = ec.privateKey.export({ format: 'jwk' });
    expect(() => importJwks({ keys: [{ ...priv, kid: 'p' }] })).toThrow(ConfigError);
    expect(() => importJwks({ keys: [{ kty: 'oct', k: 'AAAA', kid: 'o' }] })).toThrow(ConfigError);
  });
});

describe('SEC-29: claims', () => {
  const h = { alg: 'HS256', typ: 'at+jwt', kid: 'hs' };
  it('SEC-29: expired (past tolerance) gives ERR_TOKEN_EXPIRED; within 30 s skew passes', () => {
    refused(hsVerifier, hs(h, { ...goodClaims, exp: t - 31 }), 'ERR_TOKEN_EXPIRED');
    expect(hsVerifier.verifySync(hs(h, { ...goodClaims, exp: t - 29 })).sub).toBe('u1');
  });

  it('SEC-29: nbf or iat in the future (past tolerance) is refused', () => {
    refused(hsVerifier, hs(h, { ...goodClaims, nbf: t + 31 }));
    refused(hsVerifier, hs(h, { ...goodClaims, iat: t + 3600 }));
    expect(hsVerifier.verifySync(hs(h, { ...goodClaims, nbf: t + 29 })).sub).toBe('u1');
  });

  it('SEC-29: wrong or missing iss, aud, sub, exp are each refused', () => {
    const { exp: _e, ...noExp } = goodClaims;
    const { sub: _s, ...noSub } = goodClaims;
    for (const p of [
      { ...goodClaims, iss: 'https://evil.example' }, { ...goodClaims, iss: undefined },
      { ...goodClaims, aud: 'other-api' }, { ...goodClaims, aud: ['x', 'y'] }, { ...goodClaims, aud: [] }, { ...goodClaims, aud: [1] },
      { ...goodClaims, sub: '' }, { ...goodClaims, sub: 42 }, noSub,
      noExp, { ...goodClaims, exp: '9999999999' }, { ...goodClaims, exp: null },
      { ...goodClaims, jti: 5 },
    ]) refused(hsVerifier, hs(h, p));
    let err: unknown;
    try { hsVerifier.verifySync(hs(h, goodClaims), { subject: 'u2' }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TokenInvalidError);
    expect(hsVerifier.verifySync(hs(h, { ...goodClaims, aud: ['x', 'api'] })).sub).toBe('u1');
  });

  it('SEC-29: clock tolerance is bounded to 5 minutes at configuration', () => {
    expect(() => new JwtVerifier({ keys: [{ kid: 'hs', secret }], ...common, clockTolerance: 301 })).toThrow(ConfigError);
    expect(() => new JwtVerifier({ keys: [{ kid: 'hs', secret }], issuer: '', audience: 'a' })).toThrow(ConfigError);
  });
});

describe('SEC-30: token types', () => {
  it('SEC-30: an access validator refuses a refresh-typed JWT, and vice versa', () => {
    const keys = [{ kid: 'hs', secret }];
    const accessSigner = new JwtSigner({ keys, ...common });
    const refreshSigner = new JwtSigner({ keys, ...common, typ: 'refresh+jwt' });
    const refreshVerifier = new JwtVerifier({ keys, ...common, typ: 'refresh+jwt' });
    refused(hsVerifier, refreshSigner.sign({ sub: 'u1' }));
    refused(refreshVerifier, accessSigner.sign({ sub: 'u1' }));
    expect(refreshVerifier.verifySync(refreshSigner.sign({ sub: 'u1' })).sub).toBe('u1');
    refused(hsVerifier, hs({ alg: 'HS256', kid: 'hs' }, goodClaims)); // missing typ
    refused(hsVerifier, hs({ alg: 'HS256', typ: 'JWT', kid: 'hs' }, goodClaims));
  });

  it('SEC-30: an opaque refresh token is not a JWT', () => {
    refused(hsVerifier, `rt1.${'A'.repeat(22)}.${'B'.repeat(43)}`);
  });
});

describe('malformed tokens', () => {
  const good = hs({ alg: 'HS256', typ: 'at+jwt', kid: 'hs' }, goodClaims);
  const [h, p, s] = good.split('.') as [string, string, string];

  it('truncated or altered signatures, extra segments, bad base64, non-JSON, huge, wrong types are refused', () => {
    const corpus: unknown[] = [
      `${h}.${p}.${s.slice(0, -1)}`, `${h}.${p}.${s.slice(0, 10)}`, `${h}.${p}.`, `${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.`,
      `${h}..${s}`, `.${p}.${s}`, `${h}.${p}.${s}=`, `${h}.${p}.${s.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`,
      `${h}.${p}!.${s}`, `${h}.${p}.${s}\n`, `${h}+/.${p}.${s}`, `${b64('not json')}.${p}.${s}`, `${h}.${b64('[1,2]')}.${s}`,
      `${b64('null')}.${p}.${s}`, `${b64('"str"')}.${p}.${s}`, `${h}.${b64('{"a":')}.${s}`,
      `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'hs', pad: 'x'.repeat(10_000) })}.${p}.${s}`,
      'a'.repeat(100_000), '', '...', '..', 'x', 42, null, undefined, {}, ['a', 'b', 'c'], '\u0000.\u0000.\u0000', '☃.☃.☃',
    ];
    for (const tok of corpus) refused(hsVerifier, tok);
  });

  it('crit and b64=false headers are refused', () => {
    refused(hsVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid: 'hs', crit: ['exp'] }, goodClaims));
    refused(hsVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid: 'hs', b64: false, crit: ['b64'] }, goodClaims));
    refused(hsVerifier, hs({ alg: 'HS256', typ: 'at+jwt', kid: 'hs', b64: false }, goodClaims));
  });

  it('an ES256 signature of the wrong length or in DER form is refused', () => {
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'ec' })}.${b64(goodClaims)}`;
    const der = cryptoSign('sha256', Buffer.from(input), ec.privateKey).toString('base64url');
    refused(ecVerifier, `${input}.${der}`);
    refused(ecVerifier, `${input}.${'A'.repeat(86)}`);
  });

  it('emits token.invalid with a hash, never the token', () => {
    const events: StatelessEvent[] = [];
    const v = new JwtVerifier({ keys: [{ kid: 'hs', secret }], ...common, onEvent: (e) => events.push(e) });
    expect(() => v.verifySync(`${h}.${p}.AAAA`)).toThrow(TokenInvalidError);
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(p);
    expect(events[0]).toMatchObject({ type: 'token.invalid', tokenHash: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  });

  it('an expired but forged token is invalid, not expired (signature checked first)', () => {
    let err: unknown;
    try { hsVerifier.verifySync(hs({ alg: 'HS256', typ: 'at+jwt', kid: 'hs' }, { ...goodClaims, exp: 1 }, Buffer.alloc(32))); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TokenInvalidError);
    expect(err).not.toBeInstanceOf(TokenExpiredError);
  });
});

describe('key rotation by kid', () => {
  it('old kid still verifies; the signer uses the first key; unknown kids refused', () => {
    const oldS = new JwtSigner({ keys: [{ kid: 'old', secret }], ...common });
    const newSecret = randomBytes(32);
    const signer = new JwtSigner({ keys: [{ kid: 'new', secret: newSecret }, { kid: 'old', secret }], ...common });
    const v = new JwtVerifier({ keys: [{ kid: 'new', secret: newSecret }, { kid: 'old', secret }], ...common });
    expect(v.verifySync(oldS.sign({ sub: 'a' })).sub).toBe('a');
    const tok = signer.sign({ sub: 'b' });
    expect(JSON.parse(Buffer.from(tok.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: 'new' });
    expect(v.verifySync(tok).sub).toBe('b');
    // With more than one key, a token without kid is refused.
    refused(v, hs({ alg: 'HS256', typ: 'at+jwt' }, goodClaims));
  });

  it('the signer refuses registered claims from the caller', () => {
    const s = new JwtSigner({ keys: [{ kid: 'k', secret }], ...common });
    expect(() => s.sign({ sub: 'a', exp: 1 })).toThrow(/set by the signer/);
    expect(() => s.sign({ sub: '' })).toThrow();
  });
});
