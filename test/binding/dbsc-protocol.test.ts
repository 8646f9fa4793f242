/**
 * DBSC at the protocol level, on every store (memory, SQLite, Redis, Redis Cluster, PostgreSQL):
 * a test browser (key generation, JWT signing, deferral) against the core's guard and endpoints.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager, type SessionEvent } from '../../src/index.js';
import { DeviceBoundSessions } from '../../src/binding/dbsc/index.js';
import { FakeClock, SECRET } from '../helpers/core.js';
import { allStores } from '../helpers/stores.js';
import { coreApp } from '../helpers/dbsc-app.js';
import { DbscBrowser, deviceKey, header, signJws, type Alg, type Wire } from '../helpers/dbsc-browser.js';

const BOUND = 5 * 60_000;
const factories = allStores({ cluster: true });
afterAll(async () => {
  for (const f of factories) await f.close();
});

describe.each(factories.map((f) => [f.name, f] as const))('DBSC protocol on %s', (_name, factory) => {
  async function setup(alg: Alg = 'ES256') {
    const clock = new FakeClock(Date.now());
    const events: SessionEvent[] = [];
    const store = await factory.open(clock.now);
    const dbsc = new DeviceBoundSessions({ boundLifetime: BOUND, challengeLifetime: 30_000 });
    const manager = new SessionManager<any>({ store, secrets: [SECRET], clock: clock.now, rotationGrace: 5_000, guard: dbsc, onEvent: (e) => events.push(e) });
    const send = coreApp(manager);
    const browser = new DbscBrowser(send, clock.now, { alg });
    const me = async (b: DbscBrowser = browser) => JSON.parse((await b.request('GET', '/me')).body) as { user: string | null; binding: string };
    return { clock, events, manager, send, browser, me, dbsc };
  }

  /** Sign in and register; returns the setup with a bound session. */
  async function boundSetup(alg: Alg = 'ES256') {
    const t = await setup(alg);
    const login = await t.browser.raw('POST', '/login');
    expect(header(login, 'secure-session-registration')).toMatch(/^\((ES256 RS256)\);path="\/\.sw\/dbsc\/register";challenge="[^"]+"$/);
    const reg = await t.browser.register();
    expect(reg.status).toBe(200);
    return t;
  }

  for (const alg of ['ES256', 'RS256'] as const) {
    it(`registration with an ${alg} key binds the session: instructions, a bound cookie, binding 'dbsc', an event`, async () => {
      const { browser, me, events } = await setup(alg);
      await browser.raw('POST', '/login');
      const reg = await browser.register();
      expect(reg.status).toBe(200);
      expect(header(reg, 'cache-control')).toBe('no-store');
      const body = JSON.parse(reg.body);
      expect(body).toMatchObject({ refresh_url: '/.sw/dbsc/refresh', scope: { include_site: true }, credentials: [{ type: 'cookie', name: '__Host-sw_dbsc', attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax' }] });
      // The instructions name the attributes of the real Set-Cookie, byte for byte.
      const set = reg.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v);
      expect(set.find((c) => c.startsWith('__Host-sw_dbsc='))).toMatch(/^__Host-sw_dbsc=[^;]+; Max-Age=300; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
      // Binding renews the session token: a token seen before it is worth only the grace window.
      expect(set.some((c) => c.startsWith('__Host-sid='))).toBe(true);
      expect(await me()).toEqual({ user: 'alice', binding: 'dbsc' });
      expect(events.filter((e) => e.type === 'session.bound')).toHaveLength(1);
    });
  }

  it('a browser without DBSC keeps a working session, visibly unbound', async () => {
    const { clock, send, manager } = await setup();
    const plain = new DbscBrowser(send, clock.now, { dbsc: false });
    await plain.request('POST', '/login');
    clock.advance(BOUND * 3);
    expect(JSON.parse((await plain.request('GET', '/me')).body)).toEqual({ user: 'alice', binding: 'none' });
    expect(await manager.listUserSessions('alice')).toHaveLength(1);
  });

  it('refresh: the expired bound cookie defers the request behind a refresh that rotates the session', async () => {
    const { browser, clock, me, events } = await boundSetup();
    const sidBefore = browser.jar.get('__Host-sid')!.value;
    clock.advance(BOUND + 1);
    expect(await me()).toEqual({ user: 'alice', binding: 'dbsc' });
    expect(browser.refreshes).toBe(1);
    expect(browser.jar.get('__Host-sid')!.value).not.toBe(sidBefore);
    // Login, registration, refresh.
    expect(events.filter((e) => e.type === 'session.rotated').length).toBe(3);
    expect(events.some((e) => e.type === 'session.binding_violation')).toBe(false);
    // And again: the binding survived the rotation.
    clock.advance(BOUND + 1);
    expect(await me()).toEqual({ user: 'alice', binding: 'dbsc' });
    expect(browser.refreshes).toBe(2);
  });

  it('SEC-35: a bound cookie replayed after its lifetime is refused and raises session.binding_violation', async () => {
    const { browser, clock, send, events } = await boundSetup();
    const stolen = browser.cookieHeader();
    const thief = async (cookie: string) => JSON.parse((await send('GET', '/me', { cookie })).body);
    expect(await thief(stolen)).toEqual({ user: 'alice', binding: 'dbsc' });
    // The cookie copied into a jar that ignores Max-Age: the server enforces the lifetime.
    clock.advance(BOUND + 1);
    expect(await thief(stolen)).toEqual({ user: null, binding: 'none' });
    expect(events.filter((e) => e.type === 'session.binding_violation').map((e) => e.reason)).toEqual(['bound_cookie_expired']);
    // The long-lived cookie alone, or with a forged bound cookie: refused too.
    const sidOnly = stolen.split('; ').find((c) => c.startsWith('__Host-sid='))!;
    expect(await thief(sidOnly)).toEqual({ user: null, binding: 'none' });
    expect(await thief(`${sidOnly}; __Host-sw_dbsc=${'z'.repeat(10)}.${'A'.repeat(43)}`)).toEqual({ user: null, binding: 'none' });
    expect(events.filter((e) => e.type === 'session.binding_violation').map((e) => e.reason)).toEqual(['bound_cookie_expired', 'bound_cookie_missing', 'bound_cookie_invalid']);
    // The device itself carries on: it refreshes with its key.
    expect(JSON.parse((await browser.request('GET', '/me')).body).user).toBe('alice');
  });

  it('SEC-35: wrong key: a refresh proof not signed by the registered key is refused with a violation, nothing renewed', async () => {
    const { browser, events, clock, me } = await boundSetup();
    const sid = browser.jar.get('__Host-sid')!.value;
    const { challenge } = await browser.challenge();
    const other = await deviceKey('ES256');
    const w = await browser.answer(await browser.proof(challenge!, other));
    expect(w.status).toBe(401);
    expect(w.body).toBe('');
    expect(browser.jar.get('__Host-sid')!.value).toBe(sid);
    expect(events.filter((e) => e.type === 'session.binding_violation').map((e) => e.reason)).toEqual(['refresh_proof_signature']);
    // A key of another algorithm, and an RS256 proof against an ES256 binding, are refused too.
    const rsa = await deviceKey('RS256');
    expect((await browser.answer(await browser.proof(challenge!, rsa))).status).toBe(401);
    // The real device still refreshes.
    clock.advance(BOUND + 1);
    expect(await me()).toEqual({ user: 'alice', binding: 'dbsc' });
  });

  it('replayed challenge: a refresh proof works once, also when two copies race', async () => {
    const { browser, clock, send } = await boundSetup();
    const { challenge } = await browser.challenge();
    const proof = await browser.proof(challenge!);
    const cookie = browser.cookieHeader();
    const session = browser.session!;
    const post = () => send('POST', session.refreshUrl, { cookie, 'sec-secure-session-id': session.id, 'secure-session-response': proof });
    const renewed = (r: Wire) => r.status === 200 && r.headers.some(([k, v]) => k === 'set-cookie' && v.startsWith('__Host-sw_dbsc='));
    const results = await Promise.all([post(), post(), post()]);
    expect(results.filter(renewed)).toHaveLength(1);
    // Sent again at once (the old cookie reaches the session through the grace window), and later.
    expect(renewed(await post())).toBe(false);
    clock.advance(6_000);
    expect(renewed(await post())).toBe(false);
  });

  it('replayed registration: a record is bound once; the same proof again is refused', async () => {
    const { browser, send } = await setup();
    await browser.raw('POST', '/login');
    const offer = browser.offer!;
    const cookie = browser.cookieHeader();
    const key = await deviceKey();
    const proof = await signJws(key, { alg: 'ES256', typ: 'dbsc+jwt', jwk: key.jwk }, { jti: offer.challenge });
    const post = () => send('POST', offer.path, { cookie, 'secure-session-response': proof });
    const results = await Promise.all([post(), post()]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    expect((await post()).status).not.toBe(200);
  });

  it('expired challenge: a proof for a challenge older than its lifetime gets a fresh challenge, not a renewal', async () => {
    const { browser, clock } = await boundSetup();
    const sid = browser.jar.get('__Host-sid')!.value;
    const { challenge } = await browser.challenge();
    clock.advance(30_001);
    const w = await browser.answer(await browser.proof(challenge!));
    expect(w.status).toBe(403);
    expect(header(w, 'secure-session-challenge')).toMatch(/^"[^"]+";id="[^"]+"$/);
    expect(browser.jar.get('__Host-sid')!.value).toBe(sid);
  });

  it('revoke during refresh: a session revoked between challenge and proof is not renewed; the browser is told to stop', async () => {
    const { browser, manager, clock, send } = await boundSetup();
    const cookie = browser.cookieHeader();
    const { challenge } = await browser.challenge();
    const proof = await browser.proof(challenge!);
    // "Sign out everywhere" from another device lands while the browser signs.
    expect(await manager.destroyUserSessions('alice')).toBe(1);
    const w = await browser.answer(proof);
    expect(w.status).toBe(200);
    expect(JSON.parse(w.body)).toMatchObject({ continue: false });
    expect(browser.session).toBeNull();
    expect(w.headers.some(([k, v]) => k === 'set-cookie' && v.startsWith('__Host-sw_dbsc='))).toBe(false);
    clock.advance(1);
    expect(JSON.parse((await send('GET', '/me', { cookie })).body)).toEqual({ user: null, binding: 'none' });
  });

  it('revoke racing the refresh: a logout concurrent with the claim and the renewal leaves no live session', async () => {
    const { browser, send } = await boundSetup();
    const cookie = browser.cookieHeader();
    const { challenge } = await browser.challenge();
    const proof = await browser.proof(challenge!);
    const session = browser.session!;
    const [r] = await Promise.all([
      send('POST', session.refreshUrl, { cookie, 'sec-secure-session-id': session.id, 'secure-session-response': proof }),
      send('POST', '/logout', { cookie }),
    ]);
    // Whatever the order, nothing the refresh issued may reach a session afterwards.
    const next = r.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v.split(';')[0]!).join('; ');
    for (const c of [cookie, next]) if (c) expect(JSON.parse((await send('GET', '/me', { cookie: c })).body).user).toBeNull();
  });

  it('logout, revoke-device, destroy-all and expiry end the binding with the session', async () => {
    for (const end of ['logout', 'revoke', 'destroy-all', 'expiry'] as const) {
      const { browser, manager, clock } = await boundSetup();
      if (end === 'logout') await browser.request('POST', '/logout');
      else if (end === 'destroy-all') await manager.destroyUserSessions('alice');
      else if (end === 'revoke') {
        const [d] = await manager.listUserSessions('alice');
        await manager.destroyOwnedSession('alice', d!.id);
      } else clock.advance(2 * 3600_000);
      const { wire } = await browser.challenge();
      expect(wire.status, end).toBe(200);
      expect(JSON.parse(wire.body), end).toMatchObject({ continue: false });
      expect(browser.session, end).toBeNull();
    }
  });

  it('hostile refresh and registration input never crashes and never says why', async () => {
    const { browser, send } = await boundSetup();
    const cookie = browser.cookieHeader();
    const s = browser.session!;
    for (const bad of ['', 'x', 'a.b.c', `${'A'.repeat(9000)}.b.c`, 'eyJhbGciOiJub25lIn0.e30.', '..', 'e30.e30.AAAA']) {
      for (const path of [s.refreshUrl, '/.sw/dbsc/register']) {
        const w = await send('POST', path, { cookie, 'sec-secure-session-id': s.id, 'secure-session-response': bad });
        expect([400, 401, 403]).toContain(w.status);
        expect(w.body).toBe('');
      }
    }
    const alg = await send('POST', s.refreshUrl, { cookie, 'sec-secure-session-id': '"unterminated', 'secure-session-response': 'x' });
    expect(alg.status).toBeLessThan(500);
  });
});
