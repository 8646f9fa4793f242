import { describe, it, expect } from 'vitest';
import { SessionManager, MemoryStore, ReauthRequiredError, ConfigError } from '../src/index.js';
import type { SessionRecord, SessionStore } from '../src/stores/types.js';
import { setup, nextCookie, FakeClock, setCookies } from './helpers/core.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Counts writes, to prove a read-only request writes nothing unless renewal is due. */
class WriteCountingStore extends MemoryStore {
  writes: string[] = [];
  override async update(r: SessionRecord, v: number, now: number) {
    this.writes.push('update');
    return super.update(r, v, now);
  }
  override async touch(id: string, l: number, e: number, now: number) {
    this.writes.push('touch');
    return super.touch(id, l, e, now);
  }
  override async create(r: SessionRecord) {
    this.writes.push('create');
    return super.create(r);
  }
}

async function loggedIn(manager: SessionManager<any>, user = 'u1') {
  const s = await manager.load({});
  await s.login(user);
  return nextCookie((await manager.commit(s)).headers);
}

describe('expiry', () => {
  it('SEC-11: idle+1s is rejected, activity resets only the idle timer', async () => {
    const { manager, clock } = setup({ idleTimeout: 10 * MIN, absoluteTimeout: HOUR, touchAfter: 1000 });
    const cookie = await loggedIn(manager);
    clock.advance(10 * MIN - 1000);
    const s = await manager.load({ cookie });
    expect(s.userId).toBe('u1');
    await manager.commit(s); // touch: idle timer restarts
    clock.advance(10 * MIN - 1000);
    expect((await manager.load({ cookie })).userId).toBe('u1');
    clock.advance(10 * MIN + 1000); // now idle+1s since the last activity
    expect((await manager.load({ cookie })).isNew).toBe(true);
  });

  it('SEC-11: absolute+1s is rejected however active the session was', async () => {
    const { manager, clock } = setup({ idleTimeout: 10 * MIN, absoluteTimeout: HOUR, touchAfter: 1000 });
    const cookie = await loggedIn(manager);
    for (let t = 0; t < 6; t++) {
      clock.advance(9 * MIN);
      const s = await manager.load({ cookie });
      expect(s.userId).toBe('u1');
      await manager.commit(s);
    }
    clock.advance(6 * MIN + 1000); // 60 min + 1 s after login
    expect((await manager.load({ cookie })).isNew).toBe(true);
  });

  it('SEC-11: re-authentication resets both timers', async () => {
    const { manager, clock } = setup({ idleTimeout: 10 * MIN, absoluteTimeout: HOUR, touchAfter: 1000 });
    let cookie = await loggedIn(manager);
    for (let i = 0; i < 6; i++) {
      clock.advance(9 * MIN);
      await manager.commit(await manager.load({ cookie }));
    }
    // 54 min after the first login: authenticate again
    const s = await manager.load({ cookie });
    await s.login('u1');
    cookie = nextCookie((await manager.commit(s)).headers, cookie);
    expect(s.absoluteExpiresAt).toBe(clock.t + HOUR);
    for (let i = 0; i < 4; i++) {
      clock.advance(9 * MIN);
      const again = await manager.load({ cookie });
      expect(again.userId).toBe('u1'); // 90 min after the first login, alive
      await manager.commit(again);
    }
  });

  it('SEC-12: NIST AAL presets set the timeouts', () => {
    const store = new MemoryStore();
    const aal1 = new SessionManager({ store, preset: 'aal1' }).options;
    expect(aal1.absoluteTimeout).toBe(30 * 24 * HOUR);
    const aal2 = new SessionManager({ store, preset: 'aal2' }).options;
    expect([aal2.absoluteTimeout, aal2.idleTimeout]).toEqual([24 * HOUR, HOUR]);
    const aal3 = new SessionManager({ store, preset: 'aal3' }).options;
    expect([aal3.absoluteTimeout, aal3.idleTimeout]).toEqual([12 * HOUR, 15 * MIN]);
    // the default is AAL2
    expect(new SessionManager({ store }).options.absoluteTimeout).toBe(24 * HOUR);
  });

  it('SEC-12: an AAL3 profile over 12 h (or 15 min idle) is refused', () => {
    const store = new MemoryStore();
    expect(() => new SessionManager({ store, preset: 'aal3', absoluteTimeout: 13 * HOUR })).toThrow(ConfigError);
    expect(() => new SessionManager({ store, preset: 'aal3', idleTimeout: 16 * MIN })).toThrow(ConfigError);
    expect(() => new SessionManager({ store, preset: 'aal2', absoluteTimeout: 25 * HOUR })).toThrow(ConfigError);
    expect(() => new SessionManager({ store, preset: 'aal3', idleTimeout: 5 * MIN })).not.toThrow();
  });

  it('SEC-13: an expired cookie replayed later is rejected; expiry ignores the cookie', async () => {
    const { manager, clock, events } = setup({ idleTimeout: 10 * MIN, absoluteTimeout: HOUR });
    const cookie = await loggedIn(manager);
    clock.advance(11 * MIN);
    const s = await manager.load({ cookie });
    expect(s.isNew).toBe(true);
    expect(s.userId).toBeNull();
    expect(events.some((e) => e.type === 'token.unknown' || e.type === 'session.expired')).toBe(true);
  });

  it('SEC-13: responses that set a session cookie send Cache-Control: no-store', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    s.set('a', 1);
    const { headers } = await manager.commit(s);
    expect(headers).toContainEqual(['cache-control', 'no-store']);
  });

  it('SEC-19: the store TTL is min(idle, absolute remaining) after each request', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock: clock.now });
    const { manager } = setup({ store, idleTimeout: 20 * MIN, absoluteTimeout: HOUR, touchAfter: 1000 }, clock);
    const cookie = await loggedIn(manager);
    const loginAt = clock.t;
    for (let i = 0; i < 4; i++) {
      clock.advance(15 * MIN);
      const s = await manager.load({ cookie });
      if (s.isNew) break;
      await manager.commit(s);
      const rec = (await store.get(s.id!, clock.t))!;
      expect(rec.expiresAt).toBe(Math.min(clock.t + 20 * MIN, loginAt + HOUR));
    }
  });

  it('SEC-19: a touch can never revive a destroyed session', async () => {
    const { manager, clock } = setup({ touchAfter: 1000 });
    const cookie = await loggedIn(manager);
    const inflight = await manager.load({ cookie });
    const other = await manager.load({ cookie });
    await other.destroy();
    await manager.commit(other);
    clock.advance(5000);
    await manager.commit(inflight); // wants to touch
    expect((await manager.load({ cookie })).isNew).toBe(true);
  });

  it('a read-only request writes nothing unless renewal is due', async () => {
    const clock = new FakeClock();
    const store = new WriteCountingStore({ clock: clock.now });
    const { manager } = setup({ store, touchAfter: MIN }, clock);
    const cookie = await loggedIn(manager);
    store.writes = [];
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      const s = await manager.load({ cookie });
      const { headers } = await manager.commit(s);
      expect(headers).toEqual([]);
    }
    expect(store.writes).toEqual([]);
    clock.advance(MIN);
    await manager.commit(await manager.load({ cookie }));
    expect(store.writes).toEqual(['touch']);
  });

  it('SEC-14: a stale authentication gets a typed reauth_required error', async () => {
    const { manager, clock } = setup({ touchAfter: 1000 });
    const cookie = await loggedIn(manager);
    const s = await manager.load({ cookie });
    expect(() => s.requireFreshAuth(5 * MIN)).not.toThrow();
    clock.advance(6 * MIN);
    const stale = await manager.load({ cookie });
    expect(() => stale.requireFreshAuth(5 * MIN)).toThrow(ReauthRequiredError);
    try {
      stale.requireFreshAuth(5 * MIN);
    } catch (e) {
      expect((e as ReauthRequiredError).code).toBe('ERR_REAUTH_REQUIRED');
    }
    await stale.login('u1'); // re-authentication refreshes auth_time
    expect(() => stale.requireFreshAuth(5 * MIN)).not.toThrow();
  });

  it('SEC-8: a persistent cookie never outlives the absolute lifetime', async () => {
    const { manager, clock } = setup({ absoluteTimeout: HOUR, idleTimeout: 30 * MIN, cookie: { maxAge: 30 * 24 * HOUR }, touchAfter: 1000 });
    const s = await manager.load({});
    await s.login('u');
    let [c] = setCookies((await manager.commit(s)).headers);
    expect(Number(c!.attributes['max-age'])).toBe(3600);
    clock.advance(20 * MIN);
    const again = await manager.load({ cookie: `${c!.name}=${c!.value}` });
    [c] = setCookies((await manager.commit(again)).headers);
    expect(Number(c!.attributes['max-age'])).toBe(40 * 60);
  });
});

export type { SessionStore };

describe('explicit touch', () => {
  it('touch() renews the idle deadline now, never the absolute one', async () => {
    const clock = new FakeClock();
    const store = new WriteCountingStore({ clock: clock.now });
    const { manager } = setup({ store, idleTimeout: 10 * MIN, absoluteTimeout: HOUR, touchAfter: 5 * MIN }, clock);
    const cookie = await loggedIn(manager);
    clock.advance(1000);
    store.writes = [];
    const s = await manager.load({ cookie });
    s.touch();
    await manager.commit(s);
    expect(store.writes).toEqual(['touch']);
    expect(s.expiresAt).toBe(clock.t + 10 * MIN);
    expect(s.absoluteExpiresAt).toBeLessThan(clock.t + HOUR);
  });
});

describe('per-session cookie lifetime and reload', () => {
  it('SEC-8: "remember me" makes this session\'s cookie persistent, capped by the absolute lifetime, and survives login', async () => {
    const { manager, clock } = setup({ absoluteTimeout: 12 * HOUR, idleTimeout: HOUR, touchAfter: 1000 });
    const s = await manager.load({});
    s.setCookieMaxAge(30 * 24 * HOUR);
    await s.login('u');
    let [c] = setCookies((await manager.commit(s)).headers);
    expect(Number(c!.attributes['max-age'])).toBe(12 * 3600);
    clock.advance(50 * MIN);
    // a touch re-issues the persistent cookie with the remaining absolute lifetime
    const again = await manager.load({ cookie: `${c!.name}=${c!.value}` });
    expect(again.cookieMaxAge).toBe(30 * 24 * HOUR);
    [c] = setCookies((await manager.commit(again)).headers);
    expect(Number(c!.attributes['max-age'])).toBe(12 * 3600 - 50 * 60);
    expect(() => again.setCookieMaxAge(401 * 24 * HOUR)).toThrow(/400 days/);
    // back to a browser-session cookie
    again.setCookieMaxAge(null);
    [c] = setCookies((await manager.commit(again)).headers);
    expect(c!.attributes['max-age']).toBeUndefined();
  });

  it('reload() discards unsaved changes and reads what other requests wrote', async () => {
    const { manager } = setup();
    const s0 = await manager.load({});
    s0.set('a', 1);
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const mine = await manager.load({ cookie });
    const other = await manager.load({ cookie });
    other.set('b', 2);
    await manager.commit(other);
    mine.set('a', 99);
    await mine.reload();
    expect(mine.data).toEqual({ a: 1, b: 2 });
    expect((await manager.commit(mine)).headers).toEqual([]);
  });
});
