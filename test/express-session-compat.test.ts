/** express-session API semantics on sessionward (`sessionward/express`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { session, coreSession, sessionErrors, managerFromOptions, csrfProtection } from '../src/adapters/express/index.js';
import { SessionManager, MemoryStore, ConfigError, type SessionEvent } from '../src/index.js';
import { verifyCsrfToken } from '../src/csrf/index.js';
import { listen, close } from '../bench/lib/http.js';
import { SECRET } from './helpers/core.js';
import ExpressSessionPkg from 'express-session';

/** The session's data without express-session's `cookie` property. */
function dataOf(session: Record<string, unknown>): Record<string, unknown> {
  const { cookie: _cookie, ...data } = session;
  return data;
}

const store = new MemoryStore();
const events: SessionEvent[] = [];
const manager = new SessionManager<any>({ store, secrets: [SECRET], rotationGrace: 0, onEvent: (e) => events.push(e) });
const errors: unknown[] = [];
let release: () => void = () => undefined;
let entered: () => void = () => undefined;
let server: Server;
let url: string;

function build(unset: 'keep' | 'destroy') {
  const app = express();
  app.use(express.json());
  app.use(session({ manager, unset, onError: (e) => errors.push(e) }));
  app.get('/views', (req: any, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ views: req.session.views, id: req.session.id, sessionID: req.sessionID, keys: Object.keys(req.session) });
  });
  app.get('/peek', (req: any, res) => res.json({ data: dataOf(req.session), id: req.session.id }));
  app.get('/save-then-redirect', (req: any, res, next) => {
    req.session.flash = 'saved';
    req.session.save(async (err: unknown) => {
      if (err) return next(err);
      // Persisted before the redirect goes out: a parallel load with the new cookie sees it.
      const c = String(([] as string[]).concat(res.getHeader('set-cookie') as string[])[0]).split(';')[0];
      const s = await manager.load({ cookie: c });
      res.setHeader('x-persisted', String(s.get('flash')));
      res.redirect('/peek');
    });
  });
  app.get('/reload', async (req: any, res, next) => {
    const cookie = req.headers.cookie;
    const other = await manager.load({ cookie });
    other.set('fromElsewhere', 42);
    await manager.commit(other);
    req.session.reload((err: unknown) => (err ? next(err) : res.json({ fromElsewhere: req.session.fromElsewhere ?? null })));
  });
  app.post('/destroy', (req: any, res, next) => req.session.destroy((err: unknown) => (err ? next(err) : res.json({ session: req.session ?? null }))));
  app.post('/regenerate', (req: any, res, next) => {
    const before = req.session;
    req.session.regenerate((err: unknown) => (err ? next(err) : res.json({ replaced: before !== req.session, data: dataOf(req.session) })));
  });
  app.post('/unset', (req: any, res) => {
    req.session.views = 1000;
    req.session = null;
    res.json({ ok: true });
  });
  app.get('/cookie', (req: any, res) => {
    const c = req.session.cookie;
    let code = null;
    try {
      c.secure = false;
    } catch (e: any) {
      code = e.code;
    }
    res.json({ httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path, code, touch: req.session.touch() === req.session });
  });
  app.post('/remember', (req: any, res) => {
    req.session.who = 'remembered';
    req.session.cookie.maxAge = 7 * 86400_000;
    res.json({ maxAge: req.session.cookie.maxAge });
  });
  app.get('/stream', (req: any, res) => {
    req.session.streamed = true;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a');
    res.write('b');
    setTimeout(() => res.end('c'), 5);
  });
  app.get('/no-content', (req: any, res) => {
    req.session.nc = 1;
    res.sendStatus(204);
  });
  app.post('/slow', async (req: any, res) => {
    req.session.who = 'slow';
    const wait = new Promise<void>((r) => (release = r));
    entered();
    await wait;
    res.json({ ok: true });
  });
  app.post('/fast', (req: any, res) => {
    req.session.who = 'fast';
    // 'finish' fires only after the held response was committed and sent.
    res.on('finish', () => release());
    res.json({ ok: true });
  });
  app.post('/count', async (req: any, res) => {
    await req.session.$update((d: any) => {
      d.count = (d.count ?? 0) + 1;
    });
    res.json({ count: req.session.count });
  });
  app.get('/private', (req, res) => {
    coreSession(req)!.requireAuth();
    res.json({ ok: true });
  });
  app.use(sessionErrors());
  return app;
}

beforeAll(async () => {
  server = createServer(build('keep'));
  url = await listen(server);
});
afterAll(() => close(server));

const sid = (r: Response, prev = ''): string => {
  const c = r.headers.getSetCookie().find((x) => x.startsWith('__Host-sid='));
  if (!c) return prev;
  return /Max-Age=0/.test(c) ? '' : c.split(';')[0]!;
};

describe('express-session compatibility', () => {
  it('data lives as plain properties; id/sessionID are the store id; methods are not data', async () => {
    const r1 = await fetch(url + '/views');
    const b1 = (await r1.json()) as any;
    expect(b1.views).toBe(1);
    // As in express-session, `cookie` is an own enumerable property beside the data.
    expect(b1.keys).toEqual(['cookie', 'views']);
    expect(b1.id).toBe('');
    const c = sid(r1);
    const b2 = (await (await fetch(url + '/views', { headers: { cookie: c } })).json()) as any;
    expect(b2.views).toBe(2);
    expect(b2.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b2.sessionID).toBe(b2.id);
    expect(c).not.toContain(b2.id);
  });

  it('saveUninitialized=false semantics: an untouched session is neither stored nor cookied', async () => {
    const before = store.size;
    const r = await fetch(url + '/peek');
    expect(r.headers.getSetCookie()).toEqual([]);
    expect(store.size).toBe(before);
  });

  it('save(cb) persists before the redirect and the cookie goes out with it', async () => {
    const r = await fetch(url + '/save-then-redirect', { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('x-persisted')).toBe('saved');
    const c = sid(r);
    expect(r.headers.getSetCookie().filter((x) => x.startsWith('__Host-sid='))).toHaveLength(1);
    expect(((await (await fetch(url + '/peek', { headers: { cookie: c } })).json()) as any).data).toEqual({ flash: 'saved' });
  });

  it('reload(cb) picks up what another request stored', async () => {
    const c = sid(await fetch(url + '/views'));
    expect(await (await fetch(url + '/reload', { headers: { cookie: c } })).json()).toEqual({ fromElsewhere: 42 });
  });

  it('SEC-36: destroy(cb) removes req.session, deletes the record and clears the cookie', async () => {
    const c = sid(await fetch(url + '/views'));
    const r = await fetch(url + '/destroy', { method: 'POST', headers: { cookie: c } });
    expect(await r.json()).toEqual({ session: null });
    expect(r.headers.getSetCookie()[0]).toMatch(/^__Host-sid=; Max-Age=0/);
    expect(((await (await fetch(url + '/views', { headers: { cookie: c } })).json()) as any).views).toBe(1);
  });

  it('SEC-15: regenerate(cb) gives a new, empty session object and token; the old token dies', async () => {
    const c = sid(await fetch(url + '/views'));
    const r = await fetch(url + '/regenerate', { method: 'POST', headers: { cookie: c } });
    expect(await r.json()).toEqual({ replaced: true, data: {} });
    expect(r.headers.getSetCookie()[0]).toMatch(/Max-Age=0/);
    expect(((await (await fetch(url + '/views', { headers: { cookie: c } })).json()) as any).views).toBe(1);
  });

  it("unset: 'keep' drops the request's changes; 'destroy' destroys the session", async () => {
    const c = sid(await fetch(url + '/views'));
    await fetch(url + '/unset', { method: 'POST', headers: { cookie: c } });
    expect(((await (await fetch(url + '/peek', { headers: { cookie: c } })).json()) as any).data).toEqual({ views: 1 });

    const s2 = createServer(build('destroy'));
    const u2 = await listen(s2);
    try {
      const r = await fetch(u2 + '/unset', { method: 'POST', headers: { cookie: c } });
      expect(r.headers.getSetCookie()[0]).toMatch(/Max-Age=0/);
      expect(((await (await fetch(u2 + '/peek', { headers: { cookie: c } })).json()) as any).data).toEqual({});
    } finally {
      await close(s2);
    }
  });

  it('cookie security attributes cannot be changed per request (fails loudly); touch() chains', async () => {
    expect(await (await fetch(url + '/cookie')).json()).toEqual({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', code: 'ERR_INVALID_INPUT', touch: true });
  });

  it('SEC-8: req.session.cookie.maxAge makes a "remember me" cookie, capped by the absolute lifetime', async () => {
    const r = await fetch(url + '/remember', { method: 'POST', headers: { origin: new URL(url).origin } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).maxAge).toBe(7 * 86400_000);
    const set = r.headers.getSetCookie().find((c) => c.startsWith('__Host-'))!;
    const maxAge = Number(/Max-Age=(\d+)/.exec(set)![1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(7 * 86400);
    const c = set.split(';')[0]!;
    expect(((await (await fetch(url + '/peek', { headers: { cookie: c } })).json()) as any).data).toMatchObject({ who: 'remembered' });
  });

  it('streamed and header-first responses still carry the cookie, body intact and in order', async () => {
    const r = await fetch(url + '/stream');
    expect(await r.text()).toBe('abc');
    const c = sid(r);
    expect(c).not.toBe('');
    expect(((await (await fetch(url + '/peek', { headers: { cookie: c } })).json()) as any).data).toEqual({ streamed: true });
    const nc = await fetch(url + '/no-content');
    expect(nc.status).toBe(204);
    expect(sid(nc)).not.toBe('');
  });

  it('a concurrent write to the same key is a 409 with a stable code (onConflict: error)', async () => {
    const c = sid(await fetch(url + '/views'));
    const inside = new Promise<void>((r) => (entered = r));
    const slow = fetch(url + '/slow', { method: 'POST', headers: { cookie: c } });
    // The slow request has loaded the session and changed `who` before the fast one starts.
    await inside;
    const fast = await fetch(url + '/fast', { method: 'POST', headers: { cookie: c } });
    expect(fast.status).toBe(200);
    const s = await slow;
    expect(s.status).toBe(409);
    expect(await s.json()).toEqual({ error: 'ERR_SESSION_CONFLICT' });
    expect(errors.some((e: any) => e?.code === 'ERR_SESSION_CONFLICT')).toBe(true);
  });

  it('$update is atomic: 20 concurrent increments keep all 20', async () => {
    const c = sid(await fetch(url + '/views'));
    await Promise.all(Array.from({ length: 20 }, () => fetch(url + '/count', { method: 'POST', headers: { cookie: c } })));
    expect(((await (await fetch(url + '/peek', { headers: { cookie: c } })).json()) as any).data.count).toBe(20);
  });

  it('typed errors thrown by handlers map to their status through sessionErrors()', async () => {
    const r = await fetch(url + '/private');
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: 'ERR_UNAUTHENTICATED' });
  });

  it('express-session options that would weaken the defaults are refused at start-up', () => {
    const store = new MemoryStore();
    const ok = { secret: SECRET, store };
    expect(() => managerFromOptions({ ...ok, genid: () => 'x' })).toThrow(ConfigError);
    expect(() => managerFromOptions({ ...ok, cookie: { secure: false } })).toThrow(/insecureDevelopmentCookies/);
    expect(() => managerFromOptions({ ...ok, cookie: { httpOnly: false } })).toThrow(ConfigError);
    expect(() => managerFromOptions({ ...ok, cookie: { sameSite: false } })).toThrow(ConfigError);
    expect(() => managerFromOptions({ ...ok, cookie: { expires: new Date() } })).toThrow(ConfigError);
    expect(() => managerFromOptions({ ...ok, secret: 'keyboard cat' })).toThrow(/32 bytes/);
    expect(() => managerFromOptions({ ...ok, store: new ExpressSessionPkg.MemoryStore() as any })).toThrow(/legacy/);
    expect(() => managerFromOptions({ ...ok, unset: 'drop' as any })).toThrow(ConfigError);
    const m = managerFromOptions({ secret: [SECRET], store, name: 'app.sid', cookie: { sameSite: 'strict', maxAge: 3600_000, insecureDevelopmentCookies: true, secure: false }, resave: true, saveUninitialized: true, rolling: true, proxy: true, warn: () => undefined });
    expect(m.cookieName).toBe('app.sid');
    expect(m.options.cookieAttrs).toMatchObject({ sameSite: 'Strict', secure: false });
    expect(m.options.cookieMaxAge).toBe(3600_000);
  });

  it('SEC-22: csrfProtection exposes req.csrfToken() bound to the session and checks it on unsafe methods', async () => {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ manager }));
    app.use(csrfProtection({ origin: 'https://app.example.com', token: true }));
    app.get('/form', (req: any, res) => res.json({ token: req.csrfToken() }));
    app.post('/submit', (req: any, res) => res.json({ ok: verifyCsrfToken(coreSession(req)!, req.body._csrf) }));
    const s = createServer(app);
    const u = await listen(s);
    try {
      const f = await fetch(u + '/form');
      const { token } = (await f.json()) as { token: string };
      const c = sid(f);
      const post = (t: string) => fetch(u + '/submit', {
        method: 'POST',
        headers: { cookie: c, origin: 'https://app.example.com', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: t }).toString(),
      });
      const ok = await post(token);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('vary')).toMatch(/Sec-Fetch-Site, Origin/);
      expect((await post('A'.repeat(86))).status).toBe(403);
    } finally {
      await close(s);
    }
  });
});
