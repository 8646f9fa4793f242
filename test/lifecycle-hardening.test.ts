/**
 * Findings of the attacker's review of the session lifecycle (rotation grace, logout races,
 * invalid-token throttling), each reproduced on every store the engine runs on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager, MemoryStore, type SessionStore, type SessionRecord } from '../src/index.js';
import { withSession } from '../src/adapters/web.js';
import type { Session } from '../src/core/session.js';
import { sha256Sync } from '../src/crypto/node.js';
import { FakeClock, SECRET, nextCookie, setCookies } from './helpers/core.js';
import { allStores } from './helpers/stores.js';

const MIN = 60_000;

function tokenOf(cookie: string): string {
  return cookie.split('=')[1]!.split('.')[0]!;
}

/**
 * A real store whose next `get` of a chosen id holds its answer until released: it lets a test
 * place another request's writes exactly between a read and the write that follows it.
 */
function gate(store: SessionStore) {
  let hold: { id: string; reached: () => void; release: Promise<void> } | null = null;
  const gated: SessionStore = {
    name: store.name,
    get: async (id: string, now: number): Promise<SessionRecord | null> => {
      const r = await store.get(id, now);
      if (hold && hold.id === id) {
        const h = hold;
        hold = null;
        h.reached();
        await h.release;
      }
      return r;
    },
    create: (r) => store.create(r),
    update: (r, v, now) => store.update(r, v, now),
    touch: (id, l, e, now) => store.touch(id, l, e, now),
    delete: (id) => store.delete(id),
    listByUser: (u, now) => store.listByUser(u, now),
    deleteByUser: (u, except) => store.deleteByUser(u, except),
  };
  return {
    store: gated,
    pauseAfterGet(id: string) {
      let reached!: () => void;
      let release!: () => void;
      const r = new Promise<void>((res) => (reached = res));
      const p = new Promise<void>((res) => (release = res));
      hold = { id, reached, release: p };
      return { reached: r, release };
    },
  };
}

const factories = allStores();
afterAll(async () => {
  for (const f of factories) await f.close();
});

describe.each(factories.map((f) => [f.name, f] as const))('lifecycle hardening on %s', (_name, factory) => {
  async function setup(over: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) {
    const clock = new FakeClock(Date.now());
    const store = over.store ?? (await factory.open(clock.now));
    const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET], clock: clock.now, rotationGrace: 10_000, ...over });
    return { clock, store, manager };
  }

  async function signIn(manager: SessionManager<Record<string, unknown>>, user: string): Promise<string> {
    const s = await manager.load({});
    await s.login(user);
    return nextCookie((await manager.commit(s)).headers);
  }

  it('SEC-15: a step-up by the signed-in user leaves the old token nothing — not the fresh authentication', async () => {
    const { manager, clock } = await setup();
    const stolen = await signIn(manager, 'alice');
    clock.advance(20 * MIN);
    // The thief's copy is too old for the step-up page...
    const early = await manager.load({ cookie: stolen });
    expect(() => early.requireFreshAuth(5 * MIN)).toThrow(expect.objectContaining({ code: 'ERR_REAUTH_REQUIRED' }));
    // ...until the victim re-authenticates: the old token must not borrow that authentication.
    const victim = await manager.load({ cookie: stolen });
    await victim.login('alice');
    const current = nextCookie((await manager.commit(victim)).headers, stolen);
    clock.advance(1000);
    const thief = await manager.load({ cookie: stolen });
    expect(thief.userId).toBeNull();
    expect(() => thief.requireFreshAuth(5 * MIN)).toThrow();
    await expect(thief.rotate()).resolves.toBeUndefined(); // an anonymous session of its own, worth nothing
    expect(thief.userId).toBeNull();
    const owner = await manager.load({ cookie: current });
    expect(owner.userId).toBe('alice');
    expect(() => owner.requireFreshAuth(5 * MIN)).not.toThrow();
  });

  it('SEC-16: after a privilege change (rotate) the old token no longer reaches the session', async () => {
    const { manager } = await setup();
    const before = await signIn(manager, 'bob');
    const s = await manager.load({ cookie: before });
    s.set('role', 'admin');
    await s.rotate();
    const after = nextCookie((await manager.commit(s)).headers, before);
    const old = await manager.load({ cookie: before });
    expect(old.userId).toBeNull();
    expect(old.get('role')).toBeUndefined();
    const cur = await manager.load({ cookie: after });
    expect(cur.get('role')).toBe('admin');
    expect(cur.authTime).toBe(s.authTime);
  });

  it('SEC-18: a token inside a renewal grace window may use the session but make no security decision', async () => {
    const { manager, clock } = await setup();
    const old = await signIn(manager, 'carol');
    const authAt = (await manager.load({ cookie: old })).authTime;
    const s = await manager.load({ cookie: old });
    await s.renew();
    const current = nextCookie((await manager.commit(s)).headers, old);
    clock.advance(1000);
    const late = await manager.load({ cookie: old });
    expect(late.userId).toBe('carol');
    expect(late.authTime).toBe(authAt);
    for (const act of [() => late.rotate(), () => late.renew(), () => late.login('carol'), () => late.completeStep('otp'), () => late.destroyOtherSessions()]) {
      await expect(act()).rejects.toMatchObject({ code: 'ERR_SESSION_SUPERSEDED', status: 409 });
    }
    // Plain data writes of an in-flight request still land on the current session.
    late.set('cart', ['sku']);
    await manager.commit(late);
    const cur = await manager.load({ cookie: current });
    expect(cur.get('cart')).toEqual(['sku']);
    expect(cur.userId).toBe('carol');
  });

  it('SEC-38: "log out my other devices" also ends the grace pointers to the current session', async () => {
    const { manager } = await setup();
    const old = await signIn(manager, 'dana');
    const s = await manager.load({ cookie: old });
    await s.renew();
    const current = nextCookie((await manager.commit(s)).headers, old);
    const me = await manager.load({ cookie: current });
    await me.destroyOtherSessions();
    await manager.commit(me);
    expect((await manager.load({ cookie: old })).userId).toBeNull();
    expect((await manager.load({ cookie: current })).userId).toBe('dana');
  });

  it('SEC-36: a logout whose read lands before a concurrent rotation still ends the rotated token', async () => {
    const clock = new FakeClock(Date.now());
    const g = gate(await factory.open(clock.now));
    const { manager } = await setup({ store: g.store });
    const cookie = await signIn(manager, 'eve');
    const loggingOut = await manager.load({ cookie });
    const rotating = await manager.load({ cookie });
    const paused = g.pauseAfterGet(sha256Sync(tokenOf(cookie)));
    const logout = loggingOut.destroy();
    await paused.reached;
    await rotating.rotate();
    const rotated = nextCookie((await manager.commit(rotating)).headers, cookie);
    paused.release();
    await logout;
    await manager.commit(loggingOut);
    expect(rotated).not.toBe(cookie);
    expect((await manager.load({ cookie: rotated })).userId).toBeNull();
    expect(await manager.listUserSessions('eve')).toEqual([]);
  });

  it('SEC-36: a rotation that lands after a logout began fails instead of outliving it', async () => {
    const clock = new FakeClock(Date.now());
    const g = gate(await factory.open(clock.now));
    const { manager } = await setup({ store: g.store, rotationGrace: 0 });
    const cookie = await signIn(manager, 'finn');
    const loggingOut = await manager.load({ cookie });
    const rotating = await manager.load({ cookie });
    await loggingOut.destroy();
    await expect(rotating.rotate()).rejects.toMatchObject({ code: 'ERR_SESSION_DESTROYED' });
    expect(await manager.listUserSessions('finn')).toEqual([]);
  });

  // Found by the lifecycle model (test/lifecycle-model-*.test.ts): a write landing between a
  // rotating request's load and its rotation was lost, since the successor is a copy of what the
  // rotating request had loaded.
  it('SEC-18: a write landing between a renewal\'s load and the renewal is carried over to the new token', async () => {
    const { manager } = await setup();
    const cookie = await signIn(manager, 'alice');
    const renewing = await manager.load({ cookie });
    renewing.set('theme', 'dark');
    const writer = await manager.load({ cookie });
    writer.set('cart', ['book']);
    await manager.commit(writer);
    await renewing.renew();
    const next = nextCookie((await manager.commit(renewing)).headers);
    const after = await manager.load({ cookie: next });
    // The writer's key arrives; the renewing request's own change stands beside it.
    expect({ cart: after.get('cart'), theme: after.get('theme') }).toEqual({ cart: ['book'], theme: 'dark' });
  });

  it('SEC-16: rotate() on a privilege change keeps a concurrent write of the same user, before and after the rotation landed', async () => {
    const { manager } = await setup();
    const cookie = await signIn(manager, 'alice');
    const rotating = await manager.load({ cookie });
    const before = await manager.load({ cookie });
    const after = await manager.load({ cookie });
    before.set('a', 1);
    await manager.commit(before);
    await rotating.rotate();
    const next = nextCookie((await manager.commit(rotating)).headers);
    // This write was in flight with the old token when the rotation landed: it follows.
    after.set('b', 2);
    await manager.commit(after);
    const s = await manager.load({ cookie: next });
    expect({ a: s.get('a'), b: s.get('b'), user: s.userId }).toEqual({ a: 1, b: 2, user: 'alice' });
    // The old token itself still reaches nothing.
    expect((await manager.load({ cookie })).userId).toBeNull();
  });

  it('SEC-15: a write in flight from before a login never lands in the signed-in session', async () => {
    const { manager } = await setup();
    const anon = await manager.load({});
    anon.set('visits', 1);
    const cookie = nextCookie((await manager.commit(anon)).headers);
    const signingIn = await manager.load({ cookie });
    const late = await manager.load({ cookie });
    await signingIn.login('alice');
    const next = nextCookie((await manager.commit(signingIn)).headers);
    late.set('planted', 'by the pre-login request');
    await manager.commit(late);
    const s = await manager.load({ cookie: next });
    expect(s.userId).toBe('alice');
    expect(s.get('planted')).toBeUndefined();
  });

  // Issue 20, finding 1: "sign out that device" read the record and deleted it, so a rotation by
  // the target device (before, during or after the read) kept it signed in.
  async function deviceOf(manager: SessionManager<Record<string, unknown>>, user: string) {
    const me = await signIn(manager, user);
    const device = await signIn(manager, user);
    const mine = await manager.load({ cookie: me });
    const listed = (await mine.listSessions()).find((d) => !d.current)!;
    return { mine, device, id: listed.id };
  }

  it('SEC-39: "sign out that device" ends it after the device renewed twice since the list was read', async () => {
    const { manager } = await setup();
    const { mine, device, id } = await deviceOf(manager, 'gina');
    let cookie = device;
    for (let i = 0; i < 2; i++) {
      const s = await manager.load({ cookie });
      await s.renew();
      cookie = nextCookie((await manager.commit(s)).headers, cookie);
    }
    expect(await mine.destroySession(id)).toBe(true);
    expect((await manager.load({ cookie })).userId).toBeNull();
    expect((await manager.load({ cookie: device })).userId).toBeNull();
    expect((await mine.listSessions()).map((d) => d.current)).toEqual([true]);
  });

  it('SEC-39: "sign out that device" ends it when the device rotates between the read and the delete', async () => {
    const clock = new FakeClock(Date.now());
    const g = gate(await factory.open(clock.now));
    const { manager } = await setup({ store: g.store });
    const { mine, device, id } = await deviceOf(manager, 'hugo');
    const thief = await manager.load({ cookie: device });
    const paused = g.pauseAfterGet(id);
    const revoking = mine.destroySession(id);
    await paused.reached;
    await thief.rotate();
    const dodged = nextCookie((await manager.commit(thief)).headers, device);
    paused.release();
    expect(await revoking).toBe(true);
    expect(dodged).not.toBe(device);
    expect((await manager.load({ cookie: dodged })).userId).toBeNull();
    expect((await mine.listSessions()).map((d) => d.current)).toEqual([true]);
  });

  it('SEC-36: a logout in flight across two renewals ends the latest token', async () => {
    const { manager } = await setup();
    const first = await signIn(manager, 'ivan');
    const loggingOut = await manager.load({ cookie: first });
    let cookie = first;
    for (let i = 0; i < 2; i++) {
      const s = await manager.load({ cookie });
      await s.renew();
      cookie = nextCookie((await manager.commit(s)).headers, cookie);
    }
    await loggingOut.destroy();
    await manager.commit(loggingOut);
    expect((await manager.load({ cookie })).userId).toBeNull();
    expect(await manager.listUserSessions('ivan')).toEqual([]);
  });

  // Issue 20, finding 2.
  for (const follow of ['update', 'reload'] as const) {
    it(`SEC-16: a request of the old token that follows a privilege rotation by ${follow}() can obtain no token`, async () => {
      const { manager } = await setup();
      const old = await signIn(manager, 'jane');
      const attacker = await manager.load({ cookie: old });
      const victim = await manager.load({ cookie: old });
      await victim.rotate();
      const current = nextCookie((await manager.commit(victim)).headers, old);
      if (follow === 'update') await attacker.update((d) => void (d.seen = true));
      else await attacker.reload();
      expect(attacker.userId).toBe('jane');
      for (const act of [() => attacker.renew(), () => attacker.rotate(), () => attacker.login('jane'), () => attacker.destroyOtherSessions()]) {
        await expect(act()).rejects.toMatchObject({ code: 'ERR_SESSION_SUPERSEDED' });
      }
      expect(setCookies((await manager.commit(attacker)).headers)).toEqual([]);
      const owner = await manager.load({ cookie: current });
      expect(owner.userId).toBe('jane');
      expect(await manager.listUserSessions('jane')).toHaveLength(1);
    });
  }

  // Issue 20, "confirm or refute": two renewals of one token forked it into two live sessions.
  it('SEC-18: two renewals of one token leave one successor — the later one is superseded, the nonce stays one-time', async () => {
    const { manager } = await setup();
    const cookie = await signIn(manager, 'kim');
    const seed = await manager.load({ cookie });
    seed.set('nonce', 'n-1');
    await manager.commit(seed);
    const a = await manager.load({ cookie });
    const b = await manager.load({ cookie });
    await a.renew();
    const next = nextCookie((await manager.commit(a)).headers, cookie);
    await expect(b.renew()).rejects.toMatchObject({ code: 'ERR_SESSION_SUPERSEDED' });
    expect(setCookies((await manager.commit(b)).headers)).toEqual([]);
    expect(await manager.listUserSessions('kim')).toHaveLength(1);
    // Spending the nonce in the one successor spends it everywhere.
    const spend = await manager.load({ cookie: next });
    expect(spend.get('nonce')).toBe('n-1');
    spend.delete('nonce');
    await manager.commit(spend);
    expect((await manager.load({ cookie })).get('nonce')).toBeUndefined();
  });

  it('SEC-18: concurrent renewals of one token: exactly one succeeds, and its logout ends the session', async () => {
    const { manager } = await setup();
    const cookie = await signIn(manager, 'lena');
    const reqs = await Promise.all([0, 1, 2].map(() => manager.load({ cookie })));
    const results = await Promise.allSettled(reqs.map(async (s) => {
      await s.renew();
      return nextCookie((await manager.commit(s)).headers);
    }));
    const won = results.filter((r): r is PromiseFulfilledResult<string> => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_SESSION_SUPERSEDED' });
    expect(await manager.listUserSessions('lena')).toHaveLength(1);
    const s = await manager.load({ cookie: won[0]!.value });
    await s.destroy();
    await manager.commit(s);
    expect(await manager.listUserSessions('lena')).toEqual([]);
  });

  // Issue 20, "confirm or refute": a pre-login request's destroy() followed the login pointer.
  it('SEC-15: a pre-login request that logs out after the login ends neither the signed-in session nor its cookie', async () => {
    const { manager } = await setup();
    const anon = await manager.load({});
    anon.set('cart', ['x']);
    const cookie = nextCookie((await manager.commit(anon)).headers);
    const stale = await manager.load({ cookie });
    const signingIn = await manager.load({ cookie });
    await signingIn.login('mona');
    const next = nextCookie((await manager.commit(signingIn)).headers);
    await stale.destroy();
    expect(setCookies((await manager.commit(stale)).headers)).toEqual([]);
    expect((await manager.load({ cookie: next })).userId).toBe('mona');
    expect((await manager.load({ cookie })).userId).toBeNull();
  });

  // Issue 20, finding 4: a userId Redis could store but never revoke.
  it('SEC-38: a userId that is not well-formed text is refused at login on every store (so none is stored that cannot be revoked); the session keeps its data', async () => {
    const { manager } = await setup();
    const anon = await manager.load({});
    anon.set('cart', ['x']);
    const cookie = nextCookie((await manager.commit(anon)).headers);
    for (const bad of ['\ud800', 'a\udc00', 'x\ud83d', 'nul\u0000', 'tab\t', 'x'.repeat(257), '']) {
      const s = await manager.load({ cookie });
      await expect(s.login(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
      await manager.commit(s);
      await expect(manager.destroyUserSessions(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
      await expect(manager.listUserSessions(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    }
    expect((await manager.load({ cookie })).get('cart')).toEqual(['x']);
    // Well-formed text of any script is welcome and can be revoked.
    const user = '😀 Zoë \ufffd ' + 'u'.repeat(240);
    const s = await manager.load({ cookie });
    await s.login(user);
    const signed = nextCookie((await manager.commit(s)).headers);
    expect((await manager.listUserSessions(user)).length).toBe(1);
    expect(await manager.destroyUserSessions(user)).toBe(1);
    expect((await manager.load({ cookie: signed })).userId).toBeNull();
  });

  it('session data a store could not keep (NUL, lone surrogates) is refused alike on every store; __proto__ is a plain key', async () => {
    const { manager } = await setup();
    const cookie = await signIn(manager, 'nina');
    const writes: Array<(s: Session) => Promise<unknown>> = [
      async (s) => (s.set('k\u0000', 1), manager.commit(s)),
      async (s) => (s.set('k', 'lone \ud800'), manager.commit(s)),
      async (s) => ((s.data as Record<string, unknown>).deep = { x: ['\udfff'] }, manager.commit(s)),
      (s) => s.update((d) => void (d.k = '\u0000')),
      async (s) => (s.set('k', '\u0000'), s.renew()),
    ];
    for (const write of writes) {
      const s = await manager.load({ cookie });
      await expect(write(s)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    }
    const s = await manager.load({ cookie });
    expect(s.get('__proto__' as never)).toBeUndefined();
    s.set('__proto__' as never, { admin: true } as never);
    s.set('odd', 'a\\u0000 \\ud800 ✓ 😀');
    expect((s.data as Record<string, unknown>).admin).toBeUndefined();
    await manager.commit(s);
    const back = await manager.load({ cookie });
    expect(back.userId).toBe('nina');
    expect(back.get('__proto__' as never)).toEqual({ admin: true });
    expect(back.get('odd')).toBe('a\\u0000 \\ud800 ✓ 😀');
    expect((back.data as Record<string, unknown>).admin).toBeUndefined();
    expect(await manager.listUserSessions('nina')).toHaveLength(1);
  });
});

describe('invalid-token throttle (SEC-42)', () => {
  const limit = { max: 3, windowMs: MIN, action: 'throttle' as const };
  const forged = `__Host-sid=${'A'.repeat(43)}.${'B'.repeat(43)}`;

  it('SEC-42: a request whose source is unknown is never throttled (one shared bucket would lock out everyone)', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secrets: [SECRET], invalidTokenLimit: limit });
    for (let i = 0; i < 10; i++) expect((await manager.load({ cookie: forged })).isNew).toBe(true);
    for (let i = 0; i < 10; i++) expect((await manager.load({ cookie: forged, ip: '' })).isNew).toBe(true);
  });

  it('SEC-42: only MAC failures count — unknown or expired tokens without a key ring never throttle', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryStore({ clock: clock.now });
    const keyless = new SessionManager({ store, clock: clock.now, invalidTokenLimit: limit, idleTimeout: MIN });
    const s = await keyless.load({ ip: '198.51.100.7' });
    s.set('a', 1);
    const expired = nextCookie((await keyless.commit(s)).headers);
    clock.advance(2 * MIN);
    for (let i = 0; i < 10; i++) {
      expect((await keyless.load({ cookie: expired, ip: '198.51.100.7' })).isNew).toBe(true);
      expect((await keyless.load({ cookie: `__Host-sid=${'x'.repeat(43)}`, ip: '198.51.100.7' })).isNew).toBe(true);
    }
    // With a key ring, a forged MAC from a known source is counted and throttled.
    const keyed = new SessionManager({ store, secrets: [SECRET], clock: clock.now, invalidTokenLimit: limit });
    for (let i = 0; i < limit.max; i++) await keyed.load({ cookie: forged, ip: '198.51.100.7' });
    await expect(keyed.load({ cookie: forged, ip: '198.51.100.7' })).rejects.toMatchObject({ code: 'ERR_THROTTLED' });
    // Another source is unaffected.
    expect((await keyed.load({ cookie: forged, ip: '198.51.100.8' })).isNew).toBe(true);
  });

  it('SEC-42: the 429 clears the refused cookie and says when to retry', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secrets: [SECRET], invalidTokenLimit: limit });
    const handler = withSession(manager, () => new Response('ok'), { getIp: () => '203.0.113.9' });
    const send = () => handler(new Request('https://app.test/', { headers: { cookie: forged } }));
    for (let i = 0; i < limit.max; i++) expect((await send()).status).toBe(200);
    const res = await send();
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: 'ERR_THROTTLED' });
    const cleared = setCookies(res.headers.getSetCookie().map((v) => ['set-cookie', v] as [string, string]));
    expect(cleared).toHaveLength(1);
    expect(cleared[0]!.name).toBe('__Host-sid');
    expect(cleared[0]!.attributes['max-age']).toBe('0');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
