/**
 * SEC-35 / RFC 9449 section 7.1: a DPoP-bound access token (`cnf.jkt`) is sender-constrained by the
 * verifier itself — accepted only with a fresh proof signed by its key, for this request and this
 * token — and never as a bearer token, even by a verifier that was not given a DpopVerifier.
 */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { MemoryStore } from '../src/index.js';
import { DpopVerifier, JwtSigner, JwtVerifier } from '../src/stateless/index-jwt.js';
import { thumbprint } from '../src/binding/jwk.js';
import { deviceKey, signJws, type DeviceKey } from './helpers/dbsc-browser.js';

const URL_ = 'https://api.example.com/orders?page=2';
const common = { keys: [{ kid: 'k', secret: randomBytes(32) }], issuer: 'https://id.example', audience: 'api' };

async function proof(key: DeviceKey, token: string, over: Record<string, unknown> = {}): Promise<string> {
  const ath = createHash('sha256').update(token).digest('base64url');
  return signJws(key, { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }, { jti: randomBytes(12).toString('base64url'), htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), ath, ...over });
}

describe('SEC-35: DPoP-bound access tokens', async () => {
  const key = await deviceKey('ES256');
  const jkt = await thumbprint(key.jwk as Record<string, string>);
  const signer = new JwtSigner(common);
  const dpop = new DpopVerifier({ store: new MemoryStore() });
  const verifier = new JwtVerifier({ ...common, dpop });
  const invalid = { code: 'ERR_TOKEN_INVALID', message: 'invalid token' };
  const req = (p: unknown) => ({ dpop: { proof: p, method: 'GET', url: URL_ } });

  it('SEC-35: a bound token passes with a proof by its key, once; without one it is refused', async () => {
    const token = signer.sign({ sub: 'u1' }, { jkt });
    const claims = await verifier.verify(token, req(await proof(key, token)));
    expect(claims.cnf).toEqual({ jkt });
    await expect(verifier.verify(token)).rejects.toMatchObject(invalid);
    await expect(verifier.verify(token, req(undefined))).rejects.toMatchObject(invalid);
    // The same proof again is a replay.
    const p = await proof(key, token);
    await verifier.verify(token, req(p));
    await expect(verifier.verify(token, req(p))).rejects.toMatchObject(invalid);
  });

  it('SEC-35: a proof by another key, for another token, method or URL is refused', async () => {
    const token = signer.sign({ sub: 'u1' }, { jkt });
    const thief = await deviceKey('ES256');
    await expect(verifier.verify(token, req(await proof(thief, token)))).rejects.toMatchObject(invalid);
    const other = signer.sign({ sub: 'u1' }, { jkt });
    await expect(verifier.verify(token, req(await proof(key, other)))).rejects.toMatchObject(invalid);
    await expect(verifier.verify(token, req(await proof(key, token, { htm: 'POST' })))).rejects.toMatchObject(invalid);
    await expect(verifier.verify(token, req(await proof(key, token, { htu: 'https://evil.example/orders' })))).rejects.toMatchObject(invalid);
  });

  it('SEC-35: a verifier without a DpopVerifier, and verifySync, never take a bound token as a bearer token', async () => {
    const token = signer.sign({ sub: 'u1' }, { jkt });
    const plain = new JwtVerifier(common);
    await expect(plain.verify(token)).rejects.toMatchObject(invalid);
    expect(() => plain.verifySync(token)).toThrow(expect.objectContaining(invalid));
    expect(() => verifier.verifySync(token)).toThrow(expect.objectContaining(invalid));
    // A bearer token still works where DPoP is not required.
    expect((await plain.verify(signer.sign({ sub: 'u1' }))).sub).toBe('u1');
  });

  it('SEC-35: a cnf that is not exactly a thumbprint is refused, not ignored', async () => {
    for (const cnf of [{}, { jkt: 'short' }, { jkt: 42 }, 'x', null, [jkt], { x5t: 'abc' }]) {
      const token = signer.sign({ sub: 'u1', cnf });
      await expect(verifier.verify(token, req(await proof(key, token)))).rejects.toMatchObject(invalid);
    }
  });

  it('SEC-35: requireDpop refuses bearer tokens and needs a DpopVerifier; the signer checks jkt', async () => {
    const strict = new JwtVerifier({ ...common, dpop, requireDpop: true });
    await expect(strict.verify(signer.sign({ sub: 'u1' }))).rejects.toMatchObject(invalid);
    const token = signer.sign({ sub: 'u1' }, { jkt });
    expect((await strict.verify(token, req(await proof(key, token)))).sub).toBe('u1');
    expect(() => new JwtVerifier({ ...common, requireDpop: true })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(() => signer.sign({ sub: 'u1' }, { jkt: 'not-a-thumbprint' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT' }));
  });
});
