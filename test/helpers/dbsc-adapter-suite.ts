/**
 * One DBSC behaviour suite for every adapter, over real HTTP, with the test browser: the adapter
 * answers the guard's endpoints before its session middleware (and before CSRF checks: a proof
 * signed by the device key is the request's authentication), and applies the guard's verdict.
 * Uses the routes of test/helpers/adapter-suite.ts (`/read`, `/login`).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { SessionManager, MemoryStore, type SessionEvent } from '../../src/index.js';
import { DeviceBoundSessions } from '../../src/binding/dbsc/index.js';
import { FakeClock, SECRET } from './core.js';
import { ORIGIN, type AdapterApp, type AdapterUnderTest } from './adapter-suite.js';
import { DbscBrowser, deviceKey, header, type Send, type Wire } from './dbsc-browser.js';

const BOUND = 5 * 60_000;

export function runDbscAdapterSuite(adapter: AdapterUnderTest): void {
  describe(`DBSC endpoints: ${adapter.name}`, () => {
    const clock = new FakeClock(Date.now());
    const events: SessionEvent[] = [];
    const manager = new SessionManager<any>({
      store: new MemoryStore({ clock: clock.now }),
      secrets: [SECRET],
      clock: clock.now,
      guard: new DeviceBoundSessions({ boundLifetime: BOUND }),
      onEvent: (e) => events.push(e),
      warn: () => undefined,
    });
    let app: AdapterApp;
    const send: Send = async (method, path, headers) => {
      const r = await fetch(app.url + path, { method, headers, redirect: 'manual' });
      return { status: r.status, headers: [...r.headers], body: await r.text() } satisfies Wire;
    };
    const user = async (b: DbscBrowser) => JSON.parse((await b.request('GET', '/read')).body).user as string | null;
    const signIn = async () => {
      const b = new DbscBrowser(send, clock.now);
      const login = await b.raw('POST', '/login', { 'sec-fetch-site': 'same-origin', origin: ORIGIN });
      expect(login.status).toBe(200);
      expect(header(login, 'secure-session-registration')).toMatch(/^\(ES256 RS256\);path="\/\.sw\/dbsc\/register";challenge="/);
      const reg = await b.register();
      expect(reg.status).toBe(200);
      return { b, reg };
    };

    beforeAll(async () => {
      app = await adapter.start(manager, { origin: ORIGIN }, () => undefined);
    });
    afterAll(async () => {
      await app?.close();
    });

    it('registration: the offer at login, the proof answered with instructions, a bound cookie and no-store', async () => {
      const { b, reg } = await signIn();
      expect(header(reg, 'content-type')).toMatch(/^application\/json/);
      expect(header(reg, 'cache-control')).toBe('no-store');
      expect(JSON.parse(reg.body)).toMatchObject({ refresh_url: '/.sw/dbsc/refresh', credentials: [{ name: '__Host-sw_dbsc' }] });
      expect(b.jar.has('__Host-sw_dbsc')).toBe(true);
      expect(await user(b)).toBe('alice');
      const s = await manager.load({ cookie: b.cookieHeader() });
      expect(s.binding).toBe('dbsc');
    });

    it('refresh: an expired bound cookie is renewed through the endpoint, the deferred request succeeds', async () => {
      const { b } = await signIn();
      clock.advance(BOUND + 1);
      expect(await user(b)).toBe('alice');
      expect(b.refreshes).toBe(1);
    });

    it('a copied cookie replayed after the bound lifetime is refused, with session.binding_violation', async () => {
      const { b } = await signIn();
      const stolen = b.cookieHeader();
      clock.advance(BOUND + 1);
      const n = events.filter((e) => e.type === 'session.binding_violation').length;
      const r = await send('GET', '/read', { cookie: stolen });
      expect(JSON.parse(r.body).user).toBeNull();
      expect(events.filter((e) => e.type === 'session.binding_violation').length).toBe(n + 1);
    });

    it('wrong key: a refresh proof by another key gets 401 and an empty body', async () => {
      const { b } = await signIn();
      const { wire, challenge } = await b.challenge();
      expect(wire.status).toBe(403);
      const w = await b.answer(await b.proof(challenge!, await deviceKey()));
      expect(w.status).toBe(401);
      expect(w.body).toBe('');
    });

    it('an unknown session is told to stop: {"continue": false}', async () => {
      const r = await send('POST', '/.sw/dbsc/refresh', { 'sec-secure-session-id': 'nope' });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ session_identifier: 'nope', continue: false });
    });
  });
}
