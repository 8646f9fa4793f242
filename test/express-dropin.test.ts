/**
 * sessionward/express as a drop-in for express-session 1.19, on Express 5 and 4:
 * each behaviour of express-session's documentation either works the same here, or is a listed
 * difference refused at start-up (docs/migrating-from-express-session.md).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import express5 from 'express';
// @ts-expect-error the express4 alias has no types of its own; it is typed as Express below
import express4 from 'express4';
import cookieParser from 'cookie-parser';
import { session, coreSession, type ExpressSessionOptions } from '../src/adapters/express/index.js';
import { ConfigError, MemoryStore, SessionManager } from '../src/index.js';
import { parseSetCookie } from '../src/cookie/index.js';
import { FakeClock, SECRET } from './helpers/core.js';
// @ts-expect-error cookie-signature (cookie-parser's dependency) ships no types
import { sign as signCookie } from 'cookie-signature';

const MIN = 60_000;
const HOUR = 60 * MIN;
type Express = typeof express5;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

describe.each([
  ['Express 5', express5 as Express],
  ['Express 4', express4 as unknown as Express],
])('sessionward/express on %s', (_name, express) => {
  async function start(options: ExpressSessionOptions, routes: (app: ReturnType<Express>) => void, before?: (app: ReturnType<Express>) => void) {
    const app = express();
    before?.(app);
    app.use(session(options));
    routes(app);
    const server = createServer(app);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let jar = '';
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url + path, { headers: { ...(jar ? { cookie: jar } : {}), ...headers } });
      const cookies = res.headers.getSetCookie();
      for (const c of cookies) {
        const p = parseSetCookie(c)!;
        jar = p.attributes['max-age'] === '0' ? '' : `${p.name}=${p.value}`;
      }
      return { res, cookies, body: await res.text() };
    };
    return { url, get, jar: () => jar, setJar: (v: string) => (jar = v) };
  }

  const me = (app: ReturnType<Express>) =>
    app.get('/me', (req: any, res) => {
      const s = coreSession(req)!;
      res.json({ user: s.userId, authTime: s.authTime, abs: s.absoluteExpiresAt });
    });

  it('SEC-11/SEC-14: regenerate() by the signed-in user rotates the token but keeps auth time and the absolute deadline', async () => {
    const clock = new FakeClock(Date.now());
    const { get } = await start({ secret: SECRET, clock: clock.now, preset: 'aal2' }, (app) => {
      app.get('/login', (req: any, res, next) =>
        req.session.regenerate((err: unknown) => {
          if (err) return next(err);
          req.session.passport = { user: 'alice' };
          res.end('ok');
        }),
      );
      // What Passport 0.6+ does on req.login() for the user already signed in: regenerate, then
      // name the same user again — here with no credential checked at all.
      app.get('/regen', (req: any, res, next) => {
        const had = req.session.passport?.user;
        req.session.regenerate((err: unknown) => {
          if (err) return next(err);
          if (had) req.session.passport = { user: had };
          res.end('ok');
        });
      });
      me(app);
    });
    await get('/login');
    const first = JSON.parse((await get('/me')).body);
    expect(first.user).toBe('alice');
    let last = '';
    for (let i = 0; i < 36; i++) {
      clock.advance(50 * MIN);
      const r = await get('/regen');
      // A new token every time (the old one is anonymous at once)...
      expect(r.cookies.some((c) => c.startsWith('__Host-sid=') && !c.includes('Max-Age=0'))).toBe(clock.t < first.abs);
      const now = JSON.parse((await get('/me')).body);
      if (clock.t < first.abs) {
        // ...but no credential was shown: nothing about the authentication moves.
        expect(now).toEqual(first);
      } else {
        last = JSON.stringify(now);
        expect(now.user).toBeNull();
      }
    }
    // 30 h after sign-in (aal2 allows 24 h) the session is over.
    expect(last).toContain('"user":null');
  });

  it('after regenerate(cb), req.session.id and req.sessionID name the new session at once; a login still pending reads as no id', async () => {
    const { get } = await start({ secret: SECRET }, (app) => {
      app.get('/login/:user', (req: any, res) => {
        req.session.passport = { user: req.params.user };
        res.end('ok');
      });
      app.get('/id', (req: any, res) => res.json({ id: req.session.id, sid: req.sessionID }));
      app.get('/regen', (req: any, res, next) => {
        const before = req.session.id;
        const had = req.session.passport?.user;
        req.session.regenerate((err: unknown) => {
          if (err) return next(err);
          // Empty and not signed in yet: ending the response now would sign the user out.
          const empty = req.session.id;
          if (had) req.session.passport = { user: had };
          res.json({ before, empty, id: req.session.id, sid: req.sessionID });
        });
      });
      app.get('/switch', (req: any, res, next) => {
        req.session.regenerate((err: unknown) => {
          if (err) return next(err);
          req.session.passport = { user: 'bob' };
          // A login to a different user issues its token at commit: no id yet, never the dying one.
          const pending = { id: req.session.id };
          req.session.save((e: unknown) => (e ? next(e) : res.json({ pending, saved: req.session.id, sid: req.sessionID })));
        });
      });
    });
    await get('/login/alice');
    const r = JSON.parse((await get('/regen')).body);
    expect(r.empty).toBe('');
    expect(r.id).not.toBe(r.before);
    expect(r.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.sid).toBe(r.id);
    // The id read inside the callback is the one the next request carries.
    expect(JSON.parse((await get('/id')).body)).toEqual({ id: r.id, sid: r.id });
    const s = JSON.parse((await get('/switch')).body);
    expect(s.pending.id).toBe('');
    expect(s.saved).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.sid).toBe(s.saved);
    expect(JSON.parse((await get('/id')).body)).toEqual({ id: s.saved, sid: s.saved });
  });

  it('a cookie.maxAge cookie is re-sent (with Expires beside Max-Age) when the session changes, not on an unchanged request inside touchAfter', async () => {
    const clock = new FakeClock(Date.now());
    const { get } = await start({ secret: SECRET, clock: clock.now, cookie: { maxAge: 2 * HOUR } }, (app) => {
      app.get('/inc', (req: any, res) => {
        req.session.n = (req.session.n ?? 0) + 1;
        res.end(String(req.session.n));
      });
      app.get('/read', (req: any, res) => res.end(String(req.session.n)));
    });
    await get('/inc');
    clock.advance(10_000);
    const changed = await get('/inc');
    expect(changed.body).toBe('2');
    const c = parseSetCookie(changed.cookies.find((x) => x.startsWith('__Host-sid='))!)!;
    expect(c.attributes['max-age']).toBe(String(2 * 3600));
    expect(new Date(String(c.attributes['expires'])).getTime()).toBe(Math.floor((clock.t + 2 * HOUR) / 1000) * 1000);
    clock.advance(10_000);
    expect((await get('/read')).cookies).toEqual([]);
  });

  it('saveUninitialized: true stores a new untouched session and sets its cookie; the default stores nothing', async () => {
    const store = new MemoryStore();
    const on = await start({ secret: SECRET, store, saveUninitialized: true }, (app) => app.get('/', (_req, res) => res.end('hi')));
    const r = await on.get('/');
    expect(r.cookies).toHaveLength(1);
    expect(store.size).toBe(1);
    // The cookie names a stored session: the next request is not new.
    const again = await on.get('/');
    expect(again.cookies).toEqual([]);
    const store2 = new MemoryStore();
    const off = await start({ secret: SECRET, store: store2 }, (app) => app.get('/', (_req, res) => res.end('hi')));
    expect((await off.get('/')).cookies).toEqual([]);
    expect(store2.size).toBe(0);
  });

  it('rolling: true re-sends the cookie on every response; without it a read-only request sends none', async () => {
    for (const rolling of [true, false]) {
      const { get } = await start({ secret: SECRET, rolling }, (app) => {
        app.get('/set', (req: any, res) => {
          req.session.x = 1;
          res.end();
        });
        app.get('/read', (_req, res) => res.end());
      });
      // A new, uninitialized session gets no cookie either way (saveUninitialized is false).
      expect((await get('/read')).cookies, `rolling ${rolling}`).toEqual([]);
      await get('/set');
      expect((await get('/read')).cookies.length, `rolling ${rolling}`).toBe(rolling ? 1 : 0);
    }
  });

  it('resave: true renews the idle deadline on every request (a touch, never a data rewrite)', async () => {
    for (const resave of [true, false]) {
      const clock = new FakeClock(Date.now());
      const { get } = await start({ secret: SECRET, clock: clock.now, resave }, (app) => {
        app.get('/set', (req: any, res) => {
          req.session.x = 1;
          res.end();
        });
        app.get('/exp', (req: any, res) => res.json(coreSession(req)!.expiresAt));
      });
      await get('/set');
      const before = JSON.parse((await get('/exp')).body);
      clock.advance(5_000);
      await get('/exp');
      const after = JSON.parse((await get('/exp')).body);
      if (resave) expect(after).toBe(before + 5_000);
      else expect(after).toBe(before);
    }
  });

  it('a second res.json() fails as in Express ("Cannot set headers after they are sent") and the first response arrives intact', async () => {
    const errors: string[] = [];
    const { url } = await start({ secret: SECRET }, (app) => {
      app.get('/twice', (req: any, res) => {
        req.session.x = 1;
        res.json({ first: true });
        try {
          res.json({ second: true });
        } catch (e) {
          errors.push(`${(e as { code?: string }).code}: ${(e as Error).message}`);
        }
      });
    });
    const res = await fetch(url + '/twice');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ first: true });
    expect(res.headers.getSetCookie()).toHaveLength(1);
    expect(errors).toEqual(['ERR_HTTP_HEADERS_SENT: Cannot set headers after they are sent to the client']);
  });

  it('a second res.end() is ignored as by Node, a later res.status().send() throws and changes nothing, and the first response arrives whole', async () => {
    const seen: unknown[] = [];
    const { url } = await start({ secret: SECRET }, (app) => {
      app.get('/end-twice', (req: any, res) => {
        req.session.x = 1;
        res.end('first');
        seen.push(res.headersSent);
        res.end();
        try {
          res.status(500).send('third');
        } catch (e) {
          seen.push((e as { code?: string }).code);
        }
      });
    });
    const res = await fetch(url + '/end-twice');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('first');
    expect(res.headers.getSetCookie()).toHaveLength(1);
    expect(seen).toEqual([true, 'ERR_HTTP_HEADERS_SENT']);
  });

  it("sameSite: 'auto' is None on the Secure cookie and Lax on the plain-HTTP development cookie; partitioned needs SameSite=None (SEC-9); priority is sent", async () => {
    const cookieOf = async (cookie: ExpressSessionOptions['cookie']) => {
      const { get } = await start({ secret: SECRET, cookie, warn: () => {} }, (app) =>
        app.get('/', (req: any, res) => {
          req.session.x = 1;
          res.end();
        }),
      );
      return (await get('/')).cookies[0]!;
    };
    expect(await cookieOf({ sameSite: 'auto' })).toMatch(/; Secure; HttpOnly; SameSite=None/);
    expect(await cookieOf({ sameSite: 'auto', insecureDevelopmentCookies: true })).toMatch(/; HttpOnly; SameSite=Lax/);
    expect(await cookieOf({ sameSite: 'none', partitioned: true, priority: 'high' })).toMatch(/; SameSite=None; Partitioned; Priority=High$/);
    expect(() => session({ secret: SECRET, cookie: { partitioned: true } })).toThrow(ConfigError);
    expect(() => session({ secret: SECRET, cookie: { priority: 'urgent' as never } })).toThrow(ConfigError);
  });

  it('cookie.maxAge = 0 or cookie.expires = new Date(0) expires the cookie and ends the session, instead of a 500', async () => {
    for (const how of ['maxAge', 'expires'] as const) {
      const store = new MemoryStore();
      const { get, jar } = await start({ secret: SECRET, store }, (app) => {
        app.get('/set', (req: any, res) => {
          req.session.x = 1;
          res.end();
        });
        app.get('/forget', (req: any, res) => {
          if (how === 'maxAge') req.session.cookie.maxAge = 0;
          else req.session.cookie.expires = new Date(0);
          res.end('bye');
        });
        app.get('/x', (req: any, res) => res.json(req.session.x ?? null));
      });
      await get('/set');
      const old = jar();
      const r = await get('/forget');
      expect(r.res.status).toBe(200);
      expect(r.cookies.some((c) => /^__Host-sid=; Max-Age=0; Expires=Thu, 01 Jan 1970/.test(c))).toBe(true);
      expect(store.size).toBe(0);
      const replay = await fetch(r.res.url.replace('/forget', '/x'), { headers: { cookie: old } });
      expect(await replay.json()).toBeNull();
    }
  });

  it('a cookie.maxAge that is not a number is an InvalidInputError (as express-session\'s TypeError), and the session is kept', async () => {
    const store = new MemoryStore();
    const seen: string[] = [];
    const { get } = await start({ secret: SECRET, store }, (app) => {
      app.get('/set', (req: any, res) => {
        req.session.x = 1;
        res.end();
      });
      app.get('/bad', (req: any, res) => {
        try {
          req.session.cookie.maxAge = 'an hour';
        } catch (e) {
          seen.push((e as { code?: string }).code ?? '');
        }
        res.json(req.session.x);
      });
    });
    await get('/set');
    const r = await get('/bad');
    expect(seen).toEqual(['ERR_INVALID_INPUT']);
    expect(r.body).toBe('1');
    expect(r.cookies).toEqual([]);
    expect(store.size).toBe(1);
  });

  it('assigning the same cookie.maxAge on every request re-sends nothing after the first change', async () => {
    const clock = new FakeClock(Date.now());
    const { get } = await start({ secret: SECRET, clock: clock.now }, (app) =>
      app.get('/remember', (req: any, res) => {
        req.session.cookie.maxAge = 2 * HOUR;
        res.end();
      }),
    );
    const first = await get('/remember');
    expect(first.cookies[0]).toMatch(/Max-Age=7200; Expires=/);
    clock.advance(1_000);
    expect((await get('/remember')).cookies).toEqual([]);
  });

  it("`key` names the cookie as express-session's old option did; a missing secret is refused at start-up", async () => {
    const { get } = await start({ secret: SECRET, key: 'app.sid', cookie: { insecureDevelopmentCookies: true }, warn: () => {} }, (app) =>
      app.get('/', (req: any, res) => {
        req.session.x = 1;
        res.end();
      }),
    );
    expect((await get('/')).cookies[0]).toMatch(/^app\.sid=/);
    expect(() => session({})).toThrow(/secret option required for sessions/);
    expect(() => session({ secret: [] })).toThrow(ConfigError);
    // A ready manager carries the key ring instead; one without secrets is refused the same way.
    expect(() => session({ manager: new SessionManager({ store: new MemoryStore(), warn: () => {} }) })).toThrow(/secret option required/);
    expect(() => session({ manager: new SessionManager({ store: new MemoryStore(), secrets: [SECRET] }) })).not.toThrow();
  });

  it('req.session.cookie is an own enumerable property and serialises like express-session\'s Cookie', async () => {
    const clock = new FakeClock(Date.now());
    const { get } = await start({ secret: SECRET, clock: clock.now, cookie: { maxAge: HOUR } }, (app) =>
      app.get('/', (req: any, res) => {
        req.session.x = 1;
        res.json({ keys: Object.keys(req.session), json: JSON.parse(JSON.stringify(req.session)) });
      }),
    );
    const body = JSON.parse((await get('/')).body);
    expect(body.keys).toEqual(['cookie', 'x']);
    expect(body.json).toEqual({
      cookie: { path: '/', httpOnly: true, secure: true, sameSite: 'Lax', originalMaxAge: HOUR, expires: new Date(clock.t + HOUR).toISOString() },
      x: 1,
    });
  });

  it('SEC-42: the invalid-token 429 goes out with Retry-After and clears the refused cookie', async () => {
    const { url } = await start({ secret: SECRET, invalidTokenLimit: { max: 2, windowMs: MIN, action: 'throttle' } }, (app) => app.get('/', (_req, res) => res.end('ok')));
    let last: Response | null = null;
    for (let i = 0; i < 4; i++) last = await fetch(url + '/', { headers: { cookie: `__Host-sid=forged${i}.AAAA` } });
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.headers.getSetCookie().some((c) => c.startsWith('__Host-sid=; Max-Age=0'))).toBe(true);
    expect(await last!.json()).toEqual({ error: 'ERR_THROTTLED' });
  });

  it('reads the session cookie from cookie-parser (req.signedCookies, then req.cookies) when the header has none, and still checks our MAC (SEC-3)', async () => {
    const PARSER_SECRET = 'cookie-parser-secret';
    const { get, url, jar } = await start(
      { secret: SECRET },
      (app) => {
        app.get('/set', (req: any, res) => {
          req.session.x = 'kept';
          res.end();
        });
        app.get('/x', (req: any, res) => res.json(req.session.x ?? null));
      },
      (app) => {
        app.use(cookieParser(PARSER_SECRET));
        // A front end that hands cookies over only through cookie-parser's results.
        app.use((req: any, _res, next) => {
          if (req.headers['x-drop-cookie-header']) delete req.headers.cookie;
          next();
        });
      },
    );
    await get('/set');
    const [name, value] = jar().split(/=(.*)/s) as [string, string];
    const x = async (cookie: string) => (await fetch(url + '/x', { headers: { cookie, 'x-drop-cookie-header': '1' } })).json();
    // req.cookies
    expect(await x(`${name}=${value}`)).toBe('kept');
    // req.signedCookies: cookie-parser checked its own signature and handed over the value.
    expect(await x(`${name}=${encodeURIComponent('s:' + signCookie(value, PARSER_SECRET))}`)).toBe('kept');
    // cookie-parser's signature is not ours: a forged value it signed still fails our MAC.
    expect(await x(`${name}=${encodeURIComponent('s:' + signCookie('forged.AAAA', PARSER_SECRET))}`)).toBeNull();
    // JSON cookies become objects in req.cookies: ignored, never a crash; nor can a value smuggle a cookie in.
    expect(await x(`${name}=${encodeURIComponent('j:{"a":1}')}`)).toBeNull();
    expect(await x(`${name}=${encodeURIComponent('x; ' + name + '=' + value)}`)).toBeNull();
  });
});
