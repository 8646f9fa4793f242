/**
 * SEC-37: stateless credentials (sealed cookies, JWT access tokens) can be revoked: a per-session
 * / per-jti denylist expiring with the credential and a per-user "valid after" cut-off, on any
 * SessionStore, at a fixed number of parallel store reads per check, with an optional bounded in-process cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { MemoryStore } from '../src/stores/memory.js';
import { RedisStore } from '../src/stores/redis.js';
import type { SessionStore } from '../src/stores/types.js';
import { createSealedSessions, Revocation } from '../src/stateless/index-sealed.js';
import { JwtSigner, JwtVerifier, RefreshTokens } from '../src/stateless/index-jwt.js';

function clock(start = Date.UTC(2026, 2, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Wraps a store to count reads. */
function counting(store: SessionStore): SessionStore & { gets: number } {
  const c = Object.create(store) as SessionStore & { gets: number };
  c.gets = 0;
  c.get = (id, now) => {
    c.gets++;
    return store.get(id, now);
  };
  return c;
}

const cookieOf = (lines: readonly string[]): string => lines.map((l) => l.split(';')[0]!).join('; ');

describe('SEC-37: sealed sessions', () => {
  it('SEC-37: destroy() denylists the seal; a copy of the old cookie is refused afterwards', async () => {
    const c = clock();
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    const sealed = createSealedSessions<{ user?: string }>({ keys: [{ id: 'k', key: randomBytes(32) }], revocation, now: c.now });
    const s = await sealed.load(undefined);
    s.login('u1');
    s.user = 'ada';
    await s.save();
    const stolen = cookieOf(s.setCookieHeaders);
    const again = await sealed.load(stolen);
    expect(again.user).toBe('ada');
    await again.destroy();
    expect(again.setCookieHeaders[0]).toMatch(/Max-Age=0/);
    expect((await sealed.load(stolen)).user).toBeUndefined();
  });

  it('SEC-36/SEC-37: login() then destroy() in one request denylists the presented seal too (anonymous, same user, other user)', async () => {
    const c = clock();
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    const sealed = createSealedSessions<{ user?: string; cart?: string }>({ keys: [{ id: 'k', key: randomBytes(32) }], revocation, now: c.now });
    const cookieFor = async (uid: string | null): Promise<string> => {
      const s = await sealed.load(undefined);
      if (uid) s.login(uid);
      s.cart = 'book';
      await s.save();
      return cookieOf(s.setCookieHeaders);
    };
    for (const [before, after, saveBetween] of [[null, 'u1', false], ['u1', 'u1', false], ['u1', 'u2', false], ['u1', 'u1', true]] as const) {
      const presented = await cookieFor(before);
      c.advance(1000);
      const s = await sealed.load(presented);
      expect(s.cart).toBe('book');
      s.login(after);
      if (saveBetween) await s.save();
      await s.destroy();
      // The cookie the request came in with is dead after the logout, not only the one login minted.
      expect((await sealed.load(presented)).cart, `${String(before)} -> ${after}`).toBeUndefined();
    }
  });

  it('SEC-37: a per-user cut-off ends every earlier seal of that user, not later ones', async () => {
    const c = clock();
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    const sealed = createSealedSessions<{ user?: string }>({ keys: [{ id: 'k', key: randomBytes(32) }], revocation, now: c.now });
    const mk = async (uid: string): Promise<string> => {
      const s = await sealed.load(undefined);
      s.login(uid);
      s.user = uid;
      await s.save();
      return cookieOf(s.setCookieHeaders);
    };
    const a1 = await mk('u1');
    const a2 = await mk('u1');
    const b = await mk('u2');
    c.advance(1000);
    await revocation.revokeUser('u1');
    c.advance(1);
    const fresh = await mk('u1');
    expect((await sealed.load(a1)).user).toBeUndefined();
    expect((await sealed.load(a2)).user).toBeUndefined();
    expect((await sealed.load(b)).user).toBe('u2');
    expect((await sealed.load(fresh)).user).toBe('u1');
  });

  it('SEC-37: revocation records are not sessions: never listed, and "log out everywhere" cannot wipe a cut-off', async () => {
    const store = new MemoryStore();
    const revocation = new Revocation({ store });
    await revocation.revokeUser('u1', Date.now() + 1000);
    expect(await store.listByUser('u1', Date.now())).toEqual([]);
    await store.deleteByUser('u1');
    expect(await revocation.isRevoked({ id: 'x', userId: 'u1', issuedAt: Date.now() })).toBe(true);
  });
});

describe('SEC-37: JWT access tokens', () => {
  const secret = randomBytes(32);
  const common = { keys: [{ kid: 'k', secret }], issuer: 'https://id.example', audience: 'api' };

  it('SEC-33: refresh-token theft also kills the access tokens of that session (sid)', async () => {
    const store = new MemoryStore();
    const revocation = new Revocation({ store });
    const refresh = new RefreshTokens({ store, revocation });
    const signer = new JwtSigner(common);
    const verifier = new JwtVerifier({ ...common, revocation });
    const first = await refresh.issue({ userId: 'u1', sid: 'sess-1' });
    const access = signer.sign({ sub: 'u1', sid: 'sess-1' });
    const other = signer.sign({ sub: 'u1', sid: 'sess-2' });
    const second = await refresh.rotate(first.refreshToken);
    await refresh.rotate(second.refreshToken);
    // a token two generations old is reuse (theft), whatever the grace window
    await expect(refresh.rotate(first.refreshToken)).rejects.toMatchObject({ code: 'ERR_TOKEN_REUSED' });
    await expect(verifier.verify(access)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    await expect(verifier.verify(other)).resolves.toMatchObject({ sid: 'sess-2' });
  });

  it('SEC-37: a revoked jti is refused with ERR_TOKEN_REVOKED; others pass', async () => {
    const store = new MemoryStore();
    const revocation = new Revocation({ store });
    const signer = new JwtSigner(common);
    const verifier = new JwtVerifier({ ...common, revocation });
    const t1 = signer.sign({ sub: 'u1' });
    const t2 = signer.sign({ sub: 'u1' });
    await verifier.revoke(await verifier.verify(t1));
    await expect(verifier.verify(t1)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    expect((await verifier.verify(t2)).sub).toBe('u1');
    // verifySync checks no revocation, by contract (documented): the signature is still valid.
    expect(verifier.verifySync(t1).sub).toBe('u1');
  });

  it('SEC-37: a user cut-off refuses tokens issued in earlier seconds; tokens minted afterwards pass', async () => {
    const c = clock();
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    const signer = new JwtSigner({ ...common, now: c.now });
    const verifier = new JwtVerifier({ ...common, revocation, now: c.now });
    const old = signer.sign({ sub: 'u1' });
    c.advance(2000);
    await revocation.revokeUser('u1');
    const fresh = signer.sign({ sub: 'u1' });
    await expect(verifier.verify(old)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    expect((await verifier.verify(fresh)).sub).toBe('u1');
  });

  it('SEC-37: a user cut-off refuses an access token issued less than a second before it (fractional and whole-second iat)', async () => {
    // 100 ms into a second (the default start is a whole second).
    const c = clock(Date.UTC(2026, 2, 1) + 100);
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    const signer = new JwtSigner({ ...common, now: c.now });
    const verifier = new JwtVerifier({ ...common, revocation, now: c.now });
    const before = signer.sign({ sub: 'u1' });
    // Signed by another issuer in the same second, with a fractional and a whole-second iat.
    const hs = (iat: number): string => {
      const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const input = `${b({ alg: 'HS256', typ: 'at+jwt', kid: 'k' })}.${b({ iss: 'https://id.example', aud: 'api', sub: 'u1', iat, exp: Math.floor(iat) + 600, jti: `j${iat}` })}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const fractional = hs(c.now() / 1000);
    const whole = hs(Math.floor(c.now() / 1000));
    c.advance(500);
    await revocation.revokeUser('u1');
    c.advance(1);
    const after = signer.sign({ sub: 'u1' });
    for (const t of [before, fractional, whole]) await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    expect((await verifier.verify(after)).sub).toBe('u1');
  });

  it('SEC-37: a check costs two parallel store reads (cut-off, denylist), or none within revocationCacheMs; the cache delay is bounded', async () => {
    const c = clock();
    const store = counting(new MemoryStore({ clock: c.now }));
    const other = new Revocation({ store, now: c.now });
    const cached = new Revocation({ store, now: c.now, revocationCacheMs: 5000 });
    const signer = new JwtSigner({ ...common, now: c.now });
    const verifier = new JwtVerifier({ ...common, revocation: cached, now: c.now });
    const t = signer.sign({ sub: 'u1' });
    store.gets = 0;
    await verifier.verify(t);
    // The user's cut-off and the token's own deny record, in parallel: the same two however many
    // credentials were revoked before (issue 21, finding 7).
    expect(store.gets).toBe(2);
    await verifier.verify(t);
    expect(store.gets).toBe(2);
    // Another instance revokes; this one sees it once its cache entry lapses (<= 5 s).
    c.advance(1000);
    await other.revokeUser('u1');
    await expect(verifier.verify(t)).resolves.toBeTruthy();
    c.advance(5000);
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    expect(() => new Revocation({ store, revocationCacheMs: 120_000 })).toThrow(/revocationCacheMs/);
  });

  it('SEC-37: a denylist entry expires with the token', async () => {
    const c = clock();
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    await revocation.revokeSession('anon-sid', c.now() + 60_000);
    expect(await revocation.isRevoked({ id: 'anon-sid', issuedAt: c.now() })).toBe(true);
    c.advance(61_000);
    expect(await revocation.isRevoked({ id: 'anon-sid', issuedAt: c.now() })).toBe(false);
  });
});

describe('SEC-37 / SEC-39: revocation holds across instances sharing Redis', () => {
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
  const prefix = `swtest:revoke:${randomBytes(5).toString('hex')}:`;
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await client.del(keys);
    await client.quit();
  });

  it('SEC-37: revoking on one instance refuses the seal on another, and concurrent denials all land (CAS)', async () => {
    const keys = [{ id: 'k', key: randomBytes(32) }];
    const a = createSealedSessions<{ n?: number }>({ keys, revocation: new Revocation({ store: new RedisStore({ client, prefix }) }) });
    const b = createSealedSessions<{ n?: number }>({ keys, revocation: new Revocation({ store: new RedisStore({ client, prefix }) }) });
    const cookies: string[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await a.load(undefined);
      s.login('shared-user');
      s.n = i;
      await s.save();
      cookies.push(cookieOf(s.setCookieHeaders));
    }
    // Ten concurrent logouts of the same user's sessions write to the same record.
    await Promise.all(cookies.map(async (ck) => (await a.load(ck)).destroy()));
    for (const ck of cookies) expect((await b.load(ck)).n).toBeUndefined();
  });
});

describe('SEC-37: revokeUser refuses what no session could carry', () => {
  it('SEC-37: an ill-formed userId or a non-finite cut-off is an InvalidInputError and writes nothing', async () => {
    const store = counting(new MemoryStore());
    const revocation = new Revocation({ store });
    for (const bad of ['', '\ud800', 'a\u0000b', 'x'.repeat(257), 42 as unknown as string]) {
      await expect(revocation.revokeUser(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    }
    await expect(revocation.revokeUser('u1', Number.NaN)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    expect(store.gets).toBe(0);
    // A well-formed id, astral characters included, still works.
    await revocation.revokeUser('user 😀', Date.now());
    expect(await revocation.isRevoked({ id: 'none', userId: 'user 😀', issuedAt: Date.now() - 1000 })).toBe(true);
  });
});
