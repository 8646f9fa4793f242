import { describe, it, expect } from 'vitest';
import { MemoryStore, UnauthenticatedError } from '../src/index.js';
import { sha256Sync } from '../src/crypto/node.js';
import { setup, nextCookie, FakeClock } from './helpers/core.js';

function tokenOf(cookie: string): string {
  return cookie.split('=')[1]!.split('.')[0]!;
}

describe('rotation and fixation', () => {
  it('SEC-15: login issues a new token; the old one is rejected and its record gone after the grace window', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock: clock.now });
    const { manager } = setup({ store, rotationGrace: 5000 }, clock);
    const anon = await manager.load({});
    anon.set('theme', 'dark');
    const before = nextCookie((await manager.commit(anon)).headers);

    const s = await manager.load({ cookie: before });
    await s.login('alice');
    const after = nextCookie((await manager.commit(s)).headers, before);
    expect(tokenOf(after)).not.toBe(tokenOf(before));

    clock.advance(5001);
    expect((await manager.load({ cookie: before })).isNew).toBe(true);
    expect(await store.get(sha256Sync(tokenOf(before)), clock.t)).toBeNull();
    expect((await manager.load({ cookie: after })).userId).toBe('alice');
  });

  it('SEC-15: with no grace window the old record is deleted at once', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock: clock.now });
    const { manager } = setup({ store, rotationGrace: 0 }, clock);
    const anon = await manager.load({});
    anon.set('x', 1);
    const before = nextCookie((await manager.commit(anon)).headers);
    const s = await manager.load({ cookie: before });
    await s.login('alice');
    expect(await store.get(sha256Sync(tokenOf(before)), clock.t)).toBeNull();
    expect((await manager.load({ cookie: before })).isNew).toBe(true);
  });

  it('SEC-16: completing MFA and a role change each rotate the token', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    await s.login('bob', { pending: 'mfa', amr: ['pwd'] });
    const c1 = nextCookie((await manager.commit(s)).headers);
    const s2 = await manager.load({ cookie: c1 });
    await s2.completeStep('otp');
    const c2 = nextCookie((await manager.commit(s2)).headers, c1);
    expect(tokenOf(c2)).not.toBe(tokenOf(c1));
    const s3 = await manager.load({ cookie: c2 });
    s3.set('role', 'admin');
    await s3.rotate();
    const c3 = nextCookie((await manager.commit(s3)).headers, c2);
    expect(tokenOf(c3)).not.toBe(tokenOf(c2));
    const s4 = await manager.load({ cookie: c3 });
    expect(s4.get('role')).toBe('admin');
    expect(s4.isAuthenticated).toBe(true);
  });

  it('SEC-17: a half-authenticated session is refused; only allow-listed pre-login data carries over', async () => {
    const { manager } = setup({ preLoginKeys: ['returnTo'] });
    const anon = await manager.load({});
    anon.set('returnTo', '/account');
    anon.set('cart', ['planted-by-attacker']);
    const c0 = nextCookie((await manager.commit(anon)).headers);
    const s = await manager.load({ cookie: c0 });
    await s.login('carol', { pending: 'mfa' });
    expect(s.isAuthenticated).toBe(false);
    expect(() => s.requireAuth()).toThrow(UnauthenticatedError);
    await expect(s.listSessions()).rejects.toThrow(UnauthenticatedError);
    expect(s.get('returnTo')).toBe('/account');
    expect(s.get('cart')).toBeUndefined();
    await s.completeStep('otp');
    expect(s.requireAuth()).toBe('carol');
  });

  it('SEC-18: during the grace window the old token resolves to the new session, then stops', async () => {
    const { manager, clock, events } = setup({ rotationGrace: 10_000 });
    const anon = await manager.load({});
    anon.set('n', 1);
    const old = nextCookie((await manager.commit(anon)).headers);
    const inflight = await manager.load({ cookie: old }); // request started before login
    const s = await manager.load({ cookie: old });
    await s.login('dave', { keep: ['n'] });
    const fresh = nextCookie((await manager.commit(s)).headers, old);

    clock.advance(2000);
    const viaOld = await manager.load({ cookie: old });
    expect(viaOld.userId).toBe('dave');
    expect(events.some((e) => e.type === 'token.grace')).toBe(true);
    // a request that loaded before the rotation and writes after it lands on the new session
    inflight.set('late', true);
    await manager.commit(inflight);
    expect((await manager.load({ cookie: fresh })).get('late')).toBe(true);
    // and the grace response never re-issues a cookie for the old token
    const { headers } = await manager.commit(viaOld);
    expect(headers.filter(([k]) => k === 'set-cookie')).toEqual([]);

    clock.advance(8001);
    expect((await manager.load({ cookie: old })).isNew).toBe(true);
    expect((await manager.load({ cookie: fresh })).userId).toBe('dave');
  });

  it('SEC-18: no session cookie is set over plain HTTP unless the named opt-in is used', async () => {
    const warnings: string[] = [];
    const secure = setup();
    const s = await secure.manager.load({});
    s.set('a', 1);
    const [[, cookie]] = (await secure.manager.commit(s)).headers as [[string, string]];
    expect(cookie).toMatch(/; Secure/);
    const dev = setup({ cookie: { insecureDevelopmentCookies: true }, warn: (m) => warnings.push(m) });
    const d = await dev.manager.load({});
    d.set('a', 1);
    const [[, devCookie]] = (await dev.manager.commit(d)).headers as [[string, string]];
    expect(devCookie).not.toMatch(/Secure/);
    expect(devCookie).toMatch(/^sid=/);
    expect(warnings.join()).toMatch(/insecureDevelopmentCookies/);
  });

  it('a logout during the grace window ends both tokens', async () => {
    const { manager } = setup();
    const anon = await manager.load({});
    anon.set('a', 1);
    const old = nextCookie((await manager.commit(anon)).headers);
    const s = await manager.load({ cookie: old });
    await s.login('erin');
    const fresh = nextCookie((await manager.commit(s)).headers, old);
    const out = await manager.load({ cookie: fresh });
    await out.destroy();
    await manager.commit(out);
    expect((await manager.load({ cookie: old })).isNew).toBe(true);
    expect((await manager.load({ cookie: fresh })).isNew).toBe(true);
  });
});
