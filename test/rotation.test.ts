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

  it('SEC-18: during the grace window of a renewal the old token resolves to the new session, then stops', async () => {
    const { manager, clock, events } = setup({ rotationGrace: 10_000 });
    const s0 = await manager.load({});
    await s0.login('dave');
    s0.set('n', 1);
    const old = nextCookie((await manager.commit(s0)).headers);
    const inflight = await manager.load({ cookie: old }); // request started before the rotation
    const s = await manager.load({ cookie: old });
    await s.renew(); // periodic renewal: nothing about the session's privilege changed
    const fresh = nextCookie((await manager.commit(s)).headers, old);
    expect(fresh).not.toBe(old);

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

  it('SEC-15: after login the pre-login token never reaches the signed-in session, even within the grace window', async () => {
    const { manager } = setup({ rotationGrace: 10_000, preLoginKeys: ['cart'] });
    const anon = await manager.load({});
    anon.set('cart', ['sku']);
    const pre = nextCookie((await manager.commit(anon)).headers);
    const inflight = await manager.load({ cookie: pre }); // an anonymous request still running
    const s = await manager.load({ cookie: pre });
    await s.login('victim');
    const post = nextCookie((await manager.commit(s)).headers, pre);

    // an attacker who fixated or stole the pre-login token gets nothing
    const attacker = await manager.load({ cookie: pre });
    expect(attacker.isNew).toBe(true);
    expect(attacker.userId).toBeNull();
    // the in-flight anonymous request neither writes into the signed-in session nor clears its cookie
    inflight.set('planted', true);
    const { headers } = await manager.commit(inflight);
    expect(headers).toEqual([]);
    // nor on a second commit (adapters may commit twice: save() and the end of the response)
    expect((await manager.commit(inflight)).headers).toEqual([]);
    const victim = await manager.load({ cookie: post });
    expect(victim.userId).toBe('victim');
    expect(victim.get('planted')).toBeUndefined();
    expect(victim.get('cart')).toEqual(['sku']);
  });

  it('SEC-16: a half-authenticated token never reaches the session after the second factor', async () => {
    const { manager } = setup({ rotationGrace: 10_000 });
    const s = await manager.load({});
    await s.login('mfa-user', { pending: 'mfa' });
    const half = nextCookie((await manager.commit(s)).headers);
    const s2 = await manager.load({ cookie: half });
    await s2.completeStep('otp');
    await manager.commit(s2);
    const replay = await manager.load({ cookie: half });
    expect(replay.isAuthenticated).toBe(false);
    expect(replay.userId).toBeNull();
  });

  it('a rotation racing with logout does not bring the session back', async () => {
    const { manager } = setup();
    const s0 = await manager.load({});
    await s0.login('eve');
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const rotating = await manager.load({ cookie });
    const loggingOut = await manager.load({ cookie });
    await loggingOut.destroy();
    await manager.commit(loggingOut);
    await expect(rotating.rotate()).rejects.toMatchObject({ code: 'ERR_SESSION_DESTROYED' });
    const { headers } = await manager.commit(rotating);
    expect(nextCookie(headers, 'x')).toBe('');
    expect(await manager.listUserSessions('eve')).toEqual([]);
  });

  it('SEC-36: a logout racing with a rotation ends the successor too', async () => {
    const { manager } = setup();
    const s0 = await manager.load({});
    await s0.login('finn');
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const loggingOut = await manager.load({ cookie });
    const rotating = await manager.load({ cookie });
    await rotating.rotate();
    const rotated = nextCookie((await manager.commit(rotating)).headers, cookie);
    await loggingOut.destroy();
    await manager.commit(loggingOut);
    expect((await manager.load({ cookie: rotated })).isNew).toBe(true);
    expect(await manager.listUserSessions('finn')).toEqual([]);
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
