/**
 * DPoP (RFC 9449) proof verification: one test per check, the jti replay cache (atomic on every
 * store, also under concurrency), and server nonces.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { MemoryStore } from '../src/index.js';
import { DpopVerifier, DpopNonceError } from '../src/stateless/index-jwt.js';
import { thumbprint } from '../src/binding/jwk.js';
import { FakeClock } from './helpers/core.js';
import { allStores } from './helpers/stores.js';
import { deviceKey, signJws, type DeviceKey } from './helpers/dbsc-browser.js';

const URL_ = 'https://api.example.com/resource';
const TOKEN = 'access-token-value';
const ath = createHash('sha256').update(TOKEN).digest('base64url');
const NONCE_SECRET = 'dpop-nonce-secret-0123456789-abcdefgh';

async function proof(key: DeviceKey, clock: FakeClock, over: { header?: Record<string, unknown>; payload?: Record<string, unknown> } = {}): Promise<string> {
  return signJws(
    key,
    { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...over.header },
    { jti: randomBytes(12).toString('base64url'), htm: 'GET', htu: URL_, iat: Math.floor(clock.t / 1000), ath, ...over.payload },
  );
}

describe('DPoP proof checks (one per check)', async () => {
  const clock = new FakeClock(Date.now());
  const key = await deviceKey('ES256');
  const jkt = await thumbprint(key.jwk as Record<string, string>);
  const dpop = new DpopVerifier({ store: new MemoryStore({ clock: clock.now }), now: clock.now });
  const req = { method: 'GET', url: URL_, accessToken: TOKEN, jkt };
  const refused = async (p: string, r = req) => expect(dpop.verify(p, r)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID', message: 'invalid token' });

  it('a valid proof passes and names its key (ES256 and RS256)', async () => {
    expect(await dpop.verify(await proof(key, clock), req)).toMatchObject({ jkt });
    const rsa = await deviceKey('RS256');
    expect((await dpop.verify(await proof(rsa, clock), { ...req, jkt: undefined })).jkt).toBe(await thumbprint(rsa.jwk as Record<string, string>));
  });
  it('typ must be dpop+jwt', async () => {
    await refused(await proof(key, clock, { header: { typ: 'JWT' } }));
    await refused(await proof(key, clock, { header: { typ: 'dbsc+jwt' } }));
  });
  it('alg must be on the allow-list: none, HS256 and a mismatched alg are refused', async () => {
    for (const alg of ['none', 'HS256', 'RS256', 'es256']) await refused(await proof(key, clock, { header: { alg } }));
    const only = new DpopVerifier({ store: new MemoryStore({ clock: clock.now }), now: clock.now, algorithms: ['RS256'] });
    await expect(only.verify(await proof(key, clock), req)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
  });
  it('the embedded jwk must be a public key for alg: missing, private, symmetric or another key all fail', async () => {
    const other = await deviceKey('ES256');
    await refused(await proof(key, clock, { header: { jwk: undefined } }));
    await refused(await proof(key, clock, { header: { jwk: { ...key.jwk, d: 'AAAA' } } }));
    await refused(await proof(key, clock, { header: { jwk: { kty: 'oct', k: 'AAAA' } } }));
    await refused(await proof(key, clock, { header: { jwk: other.jwk } }));
  });
  it('the signature must verify: a flipped byte fails', async () => {
    const p = await proof(key, clock);
    const sig = Buffer.from(p.split('.')[2]!, 'base64url');
    sig[5]! ^= 1;
    await refused(`${p.split('.').slice(0, 2).join('.')}.${sig.toString('base64url')}`);
  });
  it('htm must equal the request method', async () => {
    await refused(await proof(key, clock, { payload: { htm: 'POST' } }));
    await refused(await proof(key, clock, { payload: { htm: 'get' } }));
  });
  it('htu is compared normalised, query and fragment ignored; another path, host or scheme fails', async () => {
    expect(await dpop.verify(await proof(key, clock, { payload: { htu: 'HTTPS://API.example.com:443/resource?x=1#f' } }), { ...req, url: `${URL_}?y=2` })).toBeTruthy();
    for (const htu of ['https://api.example.com/other', 'https://evil.example.com/resource', 'http://api.example.com/resource', 'not a url', 42]) {
      await refused(await proof(key, clock, { payload: { htu } }));
    }
  });
  it('iat must be within the window: too old, too far ahead, or missing fails', async () => {
    await refused(await proof(key, clock, { payload: { iat: Math.floor(clock.t / 1000) - 61 } }));
    await refused(await proof(key, clock, { payload: { iat: Math.floor(clock.t / 1000) + 10 } }));
    await refused(await proof(key, clock, { payload: { iat: 'now' } }));
  });
  it('ath must be the hash of the access token presented with it', async () => {
    await refused(await proof(key, clock, { payload: { ath: undefined } }));
    await refused(await proof(key, clock), { ...req, accessToken: 'another-token' });
  });
  it('cnf.jkt of the access token must be the thumbprint of the proof key', async () => {
    const other = await deviceKey('ES256');
    await refused(await proof(other, clock));
    await refused(await proof(key, clock), { ...req, jkt: 'x'.repeat(43) });
  });
  it('hostile proofs never crash: malformed, huge, wrong types', async () => {
    for (const bad of [undefined, null, 42, '', 'a.b', 'a.b.c', `${'A'.repeat(10_000)}.e30.e30`, 'e30.e30.e30']) await refused(bad as string);
  });
});

describe('DPoP server nonces (RFC 9449 section 8)', () => {
  it('no nonce or a stale one gets DpopNonceError with a fresh DPoP-Nonce; the fresh one passes', async () => {
    const clock = new FakeClock(Date.now());
    const key = await deviceKey();
    const dpop = new DpopVerifier({ store: new MemoryStore({ clock: clock.now }), now: clock.now, nonce: { secret: NONCE_SECRET, lifetimeMs: 60_000 } });
    const req = { method: 'GET', url: URL_, accessToken: TOKEN };
    const err = await dpop.verify(await proof(key, clock), req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpopNonceError);
    const nonce = (err as DpopNonceError).headers.find(([k]) => k === 'dpop-nonce')![1];
    expect((err as DpopNonceError).headers).toContainEqual(['www-authenticate', 'DPoP error="use_dpop_nonce"']);
    expect(await dpop.verify(await proof(key, clock, { payload: { nonce } }), req)).toBeTruthy();
    await expect(dpop.verify(await proof(key, clock, { payload: { nonce: nonce.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } }), req)).rejects.toBeInstanceOf(DpopNonceError);
    clock.advance(60_001);
    await expect(dpop.verify(await proof(key, clock, { payload: { nonce } }), req)).rejects.toBeInstanceOf(DpopNonceError);
  });
});

const factories = allStores({ cluster: true });
afterAll(async () => {
  for (const f of factories) await f.close();
});

describe.each(factories.map((f) => [f.name, f] as const))('DPoP jti replay cache on %s', (_name, factory) => {
  it('a proof is accepted once: 8 concurrent copies give exactly one success, a later copy fails', async () => {
    const clock = new FakeClock(Date.now());
    const store = await factory.open(clock.now);
    const key = await deviceKey();
    const dpop = new DpopVerifier({ store, now: clock.now });
    const req = { method: 'GET', url: URL_, accessToken: TOKEN };
    const p = await proof(key, clock);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => dpop.verify(p, req)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    clock.advance(30_000);
    await expect(dpop.verify(p, req)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    // Another proof from the same key is fine.
    expect(await dpop.verify(await proof(key, clock), req)).toBeTruthy();
  });
});
