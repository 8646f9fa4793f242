/**
 * SEC-32: optional sidejacking fingerprint — a random value in a `__Host-` HttpOnly cookie, its
 * SHA-256 in the access token; a token presented without the matching cookie is refused.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { parseSetCookie } from '../src/cookie/index.js';
import { JwtSigner, JwtVerifier, createFingerprint } from '../src/stateless/index-jwt.js';

const common = { keys: [{ kid: 'k', secret: randomBytes(32) }], issuer: 'iss', audience: 'aud' };

describe('SEC-32: token fingerprint', () => {
  it('SEC-32: the fingerprint cookie is __Host-, Secure, HttpOnly, SameSite=Strict', () => {
    const fp = createFingerprint();
    const c = parseSetCookie(fp.setCookie)!;
    expect(c.name).toBe('__Host-fgp');
    expect(c.value).toBe(fp.value);
    expect(c.attributes).toMatchObject({ secure: true, httponly: true, samesite: 'Strict', path: '/' });
  });

  it('SEC-32: a token with a fingerprint hash needs the matching cookie value', () => {
    const signer = new JwtSigner(common);
    const verifier = new JwtVerifier(common);
    const fp = createFingerprint();
    const token = signer.sign({ sub: 'u1' }, { fingerprint: fp.value });
    expect(token).not.toContain(fp.value);
    expect(verifier.verifySync(token, { fingerprint: fp.value }).sub).toBe('u1');
    for (const wrong of [undefined, null, '', createFingerprint().value, fp.value + 'x']) {
      expect(() => verifier.verifySync(token, { fingerprint: wrong })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_INVALID' }));
    }
  });

  it('SEC-32: requireFingerprint refuses tokens minted without one', () => {
    const signer = new JwtSigner(common);
    const verifier = new JwtVerifier({ ...common, requireFingerprint: true });
    expect(() => verifier.verifySync(signer.sign({ sub: 'u1' }), { fingerprint: 'anything' })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_INVALID' }));
  });
});
