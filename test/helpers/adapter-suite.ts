/**
 * One behaviour suite for every framework adapter, over real HTTP. Each adapter's test app
 * exposes the same four routes on top of the same manager:
 *   GET  /read    -> { n, user }          (read only)
 *   POST /write   -> n = n + 1            (plain change-detected write)
 *   POST /login   -> log in as 'alice'    (token rotation, SEC-15)
 *   POST /logout  -> destroy              (SEC-36)
 * with the adapter's CSRF protection for `ORIGIN` switched on.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { SessionManager, MemoryStore, StoreUnavailableError, type SessionStore, type SessionRecord } from '../../src/index.js';
import { parseSetCookie } from '../../src/cookie/index.js';
import type { CsrfGuardOptions, CsrfEvent } from '../../src/csrf/index.js';
import { SECRET } from './core.js';

export const ORIGIN = 'https://app.example.com';

/** A store whose every call fails like an unreachable backend while `down` is set. */
export class SwitchableStore implements SessionStore {
  readonly name = 'switchable';
  down = false;
  constructor(private readonly inner: SessionStore) {}
  private gate(): void {
    if (this.down) throw new StoreUnavailableError();
  }
  async get(id: string, now: number) { this.gate(); return this.inner.get(id, now); }
  async create(r: SessionRecord) { this.gate(); return this.inner.create(r); }
  async update(r: SessionRecord, v: number, now: number) { this.gate(); return this.inner.update(r, v, now); }
  async touch(id: string, a: number, b: number, now: number) { this.gate(); return this.inner.touch(id, a, b, now); }
  async delete(id: string) { this.gate(); return this.inner.delete(id); }
  async listByUser(u: string, now: number) { this.gate(); return this.inner.listByUser(u, now); }
  async deleteByUser(u: string, e?: string) { this.gate(); return this.inner.deleteByUser(u, e); }
}

export interface AdapterApp {
  url: string;
  close(): Promise<void>;
}

export interface AdapterUnderTest {
  name: string;
  /** `onWrite(url)` must be called by the /write handler before it changes the session. */
  start(manager: SessionManager<any>, csrf: CsrfGuardOptions, onWrite: (url: string) => void): Promise<AdapterApp>;
}

interface Reply {
  status: number;
  body: any;
  text: string;
  cookies: ReturnType<typeof parseSetCookie>[];
  headers: Headers;
}

export function runAdapterSuite(adapter: AdapterUnderTest): void {
  describe(`adapter parity: ${adapter.name}`, () => {
    const store = new SwitchableStore(new MemoryStore());
    const events: CsrfEvent[] = [];
    const manager = new SessionManager<any>({ store, secrets: [SECRET], rotationGrace: 0, warn: () => undefined });
    let app: AdapterApp;

    beforeAll(async () => {
      app = await adapter.start(manager, { origin: ORIGIN, onEvent: (e) => events.push(e) }, (url) => {
        if (url.includes('fail=1')) store.down = true;
      });
    });
    afterAll(async () => {
      await app?.close();
    });

    async function call(method: 'GET' | 'POST', path: string, cookie = '', headers: Record<string, string> = {}): Promise<Reply> {
      const h: Record<string, string> = { ...headers };
      if (cookie) h.cookie = cookie;
      if (method === 'POST' && !('sec-fetch-site' in h) && !('origin' in h)) h['sec-fetch-site'] = 'same-origin';
      const r = await fetch(app.url + path, { method, headers: h, redirect: 'manual' });
      const text = await r.text();
      let body: any = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      return { status: r.status, body, text, cookies: r.headers.getSetCookie().map((c) => parseSetCookie(c)), headers: r.headers };
    }
    const sid = (r: Reply): string => {
      const c = r.cookies.find((x) => x?.name === manager.cookieName);
      return c && c.attributes['max-age'] !== '0' ? `${c.name}=${c.value}` : '';
    };

    let cookie = '';

    it('a read-only first visit stores nothing and sets no cookie', async () => {
      const r = await call('GET', '/read');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ n: null, user: null });
      expect(r.cookies).toHaveLength(0);
    });

    it('SEC-4/SEC-6: the first write creates the session with a __Host- Secure HttpOnly cookie and no-store', async () => {
      const r = await call('POST', '/write');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ n: 1 });
      const c = r.cookies.find((x) => x?.name === '__Host-sid')!;
      expect(c).toBeTruthy();
      expect(c.attributes).toMatchObject({ secure: true, httponly: true, path: '/', samesite: 'Lax' });
      expect(r.headers.get('cache-control')).toBe('no-store');
      cookie = sid(r);
    });

    it('reads and writes go through the same session', async () => {
      expect((await call('GET', '/read', cookie)).body).toEqual({ n: 1, user: null });
      const w = await call('POST', '/write', cookie);
      expect(w.body).toEqual({ n: 2 });
      expect(w.cookies).toHaveLength(0);
      expect((await call('GET', '/read', cookie)).body).toEqual({ n: 2, user: null });
    });

    it('SEC-15: login rotates the token; the old cookie no longer reaches the session', async () => {
      const r = await call('POST', '/login', cookie);
      expect(r.status).toBe(200);
      const next = sid(r);
      expect(next).not.toBe('');
      expect(next).not.toBe(cookie);
      expect((await call('GET', '/read', next)).body.user).toBe('alice');
      const old = await call('GET', '/read', cookie);
      expect(old.body).toEqual({ n: null, user: null });
      cookie = next;
    });

    it('SEC-36: logout clears the cookie with the same attributes and Max-Age=0; the old cookie is dead', async () => {
      const r = await call('POST', '/logout', cookie);
      expect(r.status).toBe(200);
      const c = r.cookies.find((x) => x?.name === '__Host-sid')!;
      expect(c.value).toBe('');
      expect(c.attributes).toMatchObject({ 'max-age': '0', secure: true, httponly: true, path: '/', samesite: 'Lax' });
      expect((await call('GET', '/read', cookie)).body).toEqual({ n: null, user: null });
    });

    it('SEC-3: a forged or malformed cookie becomes a fresh session and is cleared', async () => {
      for (const bad of ['__Host-sid=forged', `__Host-sid=${'A'.repeat(43)}.${'B'.repeat(43)}`, '__Host-sid=%E0%A4%A']) {
        const r = await call('GET', '/read', bad);
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ n: null, user: null });
        expect(r.cookies.find((x) => x?.name === '__Host-sid')?.attributes['max-age']).toBe('0');
      }
    });

    it('a store outage is a 503 with a stable code and no stack, on load and on commit', async () => {
      const w = await call('POST', '/write');
      const c = sid(w);
      store.down = true;
      try {
        const r = await call('GET', '/read', c);
        expect(r.status).toBe(503);
        expect(r.body).toEqual({ error: 'ERR_STORE_UNAVAILABLE' });
        expect(r.text).not.toMatch(/at |Error:/);
      } finally {
        store.down = false;
      }
      // Down between load and commit: the handler's response is replaced, nothing half-sent.
      const before = await call('POST', '/write?fail=1', c);
      expect(before.status).toBe(503);
      expect(before.body).toEqual({ error: 'ERR_STORE_UNAVAILABLE' });
      store.down = false;
    });

    it('SEC-24: a cross-site POST is refused with 403, an event, and Vary; same-origin passes', async () => {
      const n = events.length;
      const r = await call('POST', '/write', '', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ error: 'ERR_CSRF' });
      expect(r.headers.get('vary') ?? '').toMatch(/Sec-Fetch-Site/i);
      expect(events.length).toBe(n + 1);
      expect(events[n]).toMatchObject({ type: 'csrf.rejected', reason: 'cross-site', method: 'POST' });
      const ok = await call('POST', '/write', '', { 'sec-fetch-site': 'same-origin' });
      expect(ok.status).toBe(200);
      expect((await call('GET', '/read')).headers.get('vary') ?? '').toMatch(/Origin/i);
    });

    it('SEC-25: without Fetch Metadata, a spoofed Origin is refused and the exact origin passes', async () => {
      expect((await call('POST', '/write', '', { origin: 'https://app.example.com.attacker.com' })).status).toBe(403);
      expect((await call('POST', '/write', '', { origin: 'null' })).status).toBe(403);
      expect((await call('POST', '/write', '', { origin: ORIGIN })).status).toBe(200);
    });
  });
}
