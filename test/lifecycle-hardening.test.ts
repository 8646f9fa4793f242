/**
 * Findings of the attacker's review of the session lifecycle (rotation grace, logout races,
 * invalid-token throttling), each reproduced on every store the engine runs on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager, MemoryStore, type SessionStore, type SessionRecord } from '../src/index.js';
import { withSession } from '../src/adapters/web.js';
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
