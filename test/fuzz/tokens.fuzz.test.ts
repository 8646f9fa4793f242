/**
 * Fuzz targets with oracles for every token parser that sees hostile input (issue 20): CSRF
 * synchronizer and double-submit tokens, sealed cookies, JWT verification. Oracles: never throws
 * anything but a typed error; the genuine token is accepted; any one-character change, truncation
 * or extension of it, and any random string, is refused.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getCsrfToken, verifyCsrfToken } from '../../src/csrf/token.js';
import { doubleSubmit } from '../../src/csrf/double-submit.js';
import { NodeSealer, generateSealKey } from '../../src/stateless/seal.js';
import { JwtSigner } from '../../src/stateless/jwt/sign.js';
import { JwtVerifier } from '../../src/stateless/jwt/verify.js';
import { TokenExpiredError, TokenInvalidError } from '../../src/stateless/errors.js';
import { setup } from '../helpers/core.js';
import { fuzzRuns } from '../helpers/fuzz.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ODD = [...B64, '.', '=', '+', '/', ' ', '%', '\u00a0', '\n', '😀'];

/** A change of the genuine token: one character replaced, cut short, or extended. */
function mutation(genuine: string) {
  return fc.oneof(
    fc.tuple(fc.nat({ max: genuine.length - 1 }), fc.constantFrom(...ODD)).map(([i, c]) => genuine.slice(0, i) + c + genuine.slice(i + 1)),
    fc.nat({ max: genuine.length - 1 }).map((n) => genuine.slice(0, n)),
    fc.constantFrom(...ODD).map((c) => genuine + c),
  ).filter((t) => t !== genuine);
}
const junk = fc.oneof(fc.string({ maxLength: 120 }), fc.array(fc.constantFrom(...ODD), { maxLength: 120 }).map((a) => a.join('')));

describe('fuzz: CSRF tokens', () => {
  it('the synchronizer token verifies as issued and refuses every change and every random string, never throwing', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    const genuine = getCsrfToken(s);
    expect(verifyCsrfToken(s, genuine)).toBe(true);
    fc.assert(
      fc.property(fc.oneof(mutation(genuine), junk), (t) => {
        expect(verifyCsrfToken(s, t)).toBe(false);
      }),
      { numRuns: fuzzRuns('csrf synchronizer', 1000, 150_000) },
    );
  });

  it('the signed double-submit token verifies as issued and refuses every change, never throwing', async () => {
    const ds = doubleSubmit({ secrets: ['x'.repeat(32)] });
    const { token } = await ds.issue('session-binding');
    const cookie = `${ds.cookieName}=${token}`;
    expect(await ds.verify('session-binding', cookie, token)).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutation(token), junk), async (t) => {
        expect(await ds.verify('session-binding', `${ds.cookieName}=${t}`, t)).toBe(false);
        expect(await ds.verify('session-binding', cookie, t)).toBe(false);
      }),
      { numRuns: fuzzRuns('csrf double-submit', 300, 100_000) },
    );
  });
});

describe('fuzz: sealed cookies', () => {
  it('a seal opens as sealed and under its own cookie name only; every change and every random string is refused, never throwing', () => {
    const ring = new NodeSealer([{ id: 'k1', key: generateSealKey() }]);
    const payload = JSON.stringify({ user: 'alice', n: 1 });
    const genuine = ring.sealSync('__Host-s', payload);
    expect(ring.openSync('__Host-s', genuine)).toMatchObject({ payload });
    expect(typeof ring.openSync('__Host-t', genuine)).toBe('string');
    fc.assert(
      fc.property(fc.oneof(mutation(genuine), junk), (t) => {
        expect(typeof ring.openSync('__Host-s', t)).toBe('string');
      }),
      { numRuns: fuzzRuns('sealed open', 1000, 150_000) },
    );
  });
});

describe('fuzz: JWT verification', () => {
  const secret = 'k'.repeat(48);
  const keys = [{ kid: 'k1', secret }];
  const signer = new JwtSigner({ keys, issuer: 'https://id.example', audience: 'api' });
  const verifier = new JwtVerifier({ keys, issuer: 'https://id.example', audience: 'api' });
  const typed = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      expect(e instanceof TokenInvalidError || e instanceof TokenExpiredError).toBe(true);
      return;
    }
    throw new Error('accepted');
  };

  it('a signed token verifies; every change and every random string is a typed refusal', () => {
    const genuine = signer.sign({ sub: 'user-1', sid: 'abc' });
    expect(verifier.verifySync(genuine).sub).toBe('user-1');
    fc.assert(
      fc.property(fc.oneof(mutation(genuine), junk), (t) => typed(() => verifier.verifySync(t))),
      { numRuns: fuzzRuns('jwt mutated', 1000, 150_000) },
    );
  });

  it('hostile headers and claims under the right key are accepted only when every rule holds', () => {
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const anyValue = fc.oneof(fc.constantFrom(undefined, null, '', 'api', 'https://id.example', now + 600, now - 600, NaN, ['api'], [], ['x', 'api'], [1]), fc.string({ maxLength: 8 }), fc.integer());
    const header = fc.record({ alg: fc.constantFrom('HS256', 'none', 'NONE', 'RS256', 'HS512', undefined), typ: fc.constantFrom('at+jwt', 'application/at+jwt', 'JWT', 'rt+jwt', undefined), kid: fc.constantFrom('k1', 'k2', undefined, 1), crit: fc.constantFrom(undefined, ['exp']) });
    const claims = fc.record({ iss: anyValue, aud: anyValue, sub: anyValue, exp: anyValue, nbf: anyValue, iat: anyValue, jti: anyValue });
    fc.assert(
      fc.property(header, claims, (h, c) => {
        const input = `${b64(h)}.${b64(c)}`;
        const sig = createHmac('sha256', secret).update(input).digest('base64url');
        const ok =
          h.alg === 'HS256' && h.crit === undefined && (h.typ === 'at+jwt' || h.typ === 'application/at+jwt') && (h.kid === 'k1' || h.kid === undefined) &&
          c.iss === 'https://id.example' &&
          (c.aud === 'api' || (Array.isArray(c.aud) && c.aud.length > 0 && (c.aud as unknown[]).every((a) => typeof a === "string") && (c.aud as unknown[]).includes("api"))) &&
          typeof c.sub === 'string' && c.sub !== '' &&
          typeof c.exp === 'number' && Number.isFinite(c.exp) && c.exp + 30 > Date.now() / 1000 &&
          (c.nbf === undefined || (typeof c.nbf === 'number' && Number.isFinite(c.nbf) && c.nbf <= Date.now() / 1000 + 30)) &&
          (c.iat === undefined || (typeof c.iat === 'number' && Number.isFinite(c.iat) && c.iat <= Date.now() / 1000 + 30)) &&
          (c.jti === undefined || (typeof c.jti === 'string' && c.jti !== ''));
        if (ok) expect(verifier.verifySync(`${input}.${sig}`).sub).toBe(c.sub);
        else typed(() => verifier.verifySync(`${input}.${sig}`));
      }),
      { numRuns: fuzzRuns('jwt hostile claims', 1000, 100_000) },
    );
  });
});
