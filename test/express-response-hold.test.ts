/**
 * How the Express adapter holds a response until the session is committed, and where it keeps
 * `req.session` (issue 22): once per process on Express's own request/response prototypes, not as
 * properties added to every `req` and `res` (each one cost microseconds and a new hidden class).
 * Whatever sits between — middleware that wrapped `res.end` first, mounted sub-apps that reset the
 * prototypes, other session middleware in another app — the cookie still goes out with the head.
 * Express 5 and 4.
 */
import { describe, expect, it } from 'vitest';
import express5 from 'express';
// @ts-expect-error the express4 alias has no types of its own; it is typed as Express below
import express4 from 'express4';
import { coreSession, session } from '../src/adapters/express/index.js';
import { MemoryStore, SessionManager } from '../src/index.js';
import { FakeClock, SECRET } from './helpers/core.js';
import { useServers } from './helpers/serve.js';

type Express = typeof express5;
const serve = useServers();

const sid = (r: Response): string | undefined => r.headers.getSetCookie().find((c) => c.startsWith('__Host-sid='))?.split(';')[0];

describe.each([
  ['Express 5', express5 as Express],
  ['Express 4', express4 as unknown as Express],
])('%s', (_name, express) => {
  it('a read and a write add no property to req or res: req.session and the hold live on the prototypes', async () => {
    const added: Array<{ req: string[]; res: string[] }> = [];
    const app = express();
    let before = { req: [] as string[], res: [] as string[] };
    app.use((req, res, next) => {
      before = { req: Object.getOwnPropertyNames(req), res: Object.getOwnPropertyNames(res) };
      next();
    });
    app.use(session({ secret: SECRET }));
    const look = (req: unknown, res: unknown): void => {
      added.push({
        req: Object.getOwnPropertyNames(req).filter((k) => !before.req.includes(k)),
        res: Object.getOwnPropertyNames(res).filter((k) => !before.res.includes(k)),
      });
    };
    app.get('/w', (req: any, res) => {
      req.session.n = (req.session.n ?? 0) + 1;
      look(req, res);
      res.json({ n: req.session.n, id: req.sessionID === undefined ? null : typeof req.sessionID });
    });
    app.get('/r', (req: any, res) => {
      look(req, res);
      res.json({ n: req.session.n });
    });
    const url = await serve(app as never);
    // The first request of an app may be held with own properties (middleware before us could
    // have kept the unwrapped methods): look at the later ones.
    const cookie = sid(await fetch(url + '/w'))!;
    expect(await (await fetch(url + '/w', { headers: { cookie } })).json()).toEqual({ n: 2, id: 'string' });
    expect(await (await fetch(url + '/r', { headers: { cookie } })).json()).toEqual({ n: 2 });
    for (const a of added.slice(1)) {
      expect(a.res).toEqual([]);
      expect(a.req.filter((k) => k === 'session' || k === 'sessionID')).toEqual([]);
    }
  });

  it('a request that goes out unheld (nothing to commit) still gets what is due: renewal past touchAfter, a deep change, a new lifetime', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryStore();
    const app = express();
    app.use(session({ secret: SECRET, store, clock: clock.now, touchAfter: 60_000, idleTimeout: 3_600_000, cookie: { maxAge: 7_200_000 } }));
    app.get('/seed', (req: any, res) => {
      req.session.cart = ['a'];
      res.json({ ok: true });
    });
    app.get('/read', (req: any, res) => res.json({ cart: req.session.cart }));
    app.get('/push', (req: any, res) => {
      req.session.cart.push('b');
      res.json({ ok: true });
    });
    app.get('/remember', (req: any, res) => {
      req.session.cookie.maxAge = 86_400_000;
      res.json({ ok: true });
    });
    const url = await serve(app as never);
    const cookie = sid(await fetch(url + '/seed'))!;
    const h = { headers: { cookie } };
    // Inside touchAfter, a read changes nothing: no cookie, nothing written.
    clock.advance(10_000);
    expect((await fetch(url + '/read', h)).headers.getSetCookie()).toEqual([]);
    // Past touchAfter the read renews the session, and the persistent cookie rolls with it.
    clock.advance(120_000);
    const renewed = await fetch(url + '/read', h);
    expect(renewed.headers.getSetCookie().map((c) => c.split('=')[0])).toEqual(['__Host-sid']);
    expect(renewed.headers.get('cache-control')).toBe('no-store');
    // A change deep inside a value is seen (the snapshot is compared, not the top-level values).
    await fetch(url + '/push', h);
    expect(await (await fetch(url + '/read', h)).json()).toEqual({ cart: ['a', 'b'] });
    // A new cookie lifetime is a header to send even though the data did not change.
    const longer = await fetch(url + '/remember', h);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(longer.headers.getSetCookie().find((c) => c.startsWith('__Host-sid=')) ?? '')?.[1]);
    // Longer than the 2 h it had (the absolute timeout may cap the day asked for).
    expect(maxAge).toBeGreaterThan(7200);
  });

  it('middleware that wrapped res.end and res.writeHead before session() (as compression does) still gets the cookie out with the head', async () => {
    const app = express();
    const order: string[] = [];
    app.use((_req, res, next) => {
      const end = res.end;
      const writeHead = res.writeHead;
      res.end = function (this: unknown, ...args: unknown[]) {
        order.push('app end');
        return (end as any).apply(this, args);
      } as never;
      res.writeHead = function (this: unknown, ...args: unknown[]) {
        order.push('head');
        return (writeHead as any).apply(this, args);
      } as never;
      next();
    });
    app.use(session({ secret: SECRET }));
    app.get('/login', (req: any, res) => {
      req.session.passport = { user: 'alice' };
      res.json({ ok: true });
    });
    app.get('/me', (req: any, res) => res.json({ user: coreSession(req)?.userId ?? null }));
    const url = await serve(app as never);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(url + '/login');
      const cookie = sid(r);
      expect(cookie, `request ${i}`).toBeDefined();
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(await (await fetch(url + '/me', { headers: { cookie: cookie! } })).json()).toEqual({ user: 'alice' });
    }
    expect(order).toContain('head');
  });

  it('a mounted sub-app (which resets the request and response prototypes) writes the session and sends its cookie', async () => {
    const app = express();
    app.use(session({ secret: SECRET }));
    const sub = express();
    sub.get('/login', (req: any, res) => {
      req.session.passport = { user: 'bob' };
      req.session.theme = 'dark';
      res.json({ id: typeof req.sessionID });
    });
    sub.get('/me', (req: any, res) => res.json({ theme: req.session?.theme ?? null, user: coreSession(req)?.userId ?? null }));
    app.use('/sub', sub);
    const url = await serve(app as never);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(url + '/sub/login');
      const cookie = sid(r);
      expect(cookie, `request ${i}`).toBeDefined();
      expect(await (await fetch(url + '/sub/me', { headers: { cookie: cookie! } })).json()).toEqual({ theme: 'dark', user: 'bob' });
    }
  });

  it('in an app without sessionward, req.session set by other middleware is an ordinary own property, deleted as usual', async () => {
    // An app with sessionward first, so the accessors are on Express's request prototype.
    const withUs = express();
    withUs.use(session({ manager: new SessionManager({ store: new MemoryStore(), secrets: [SECRET] }) }));
    withUs.get('/', (_req, res) => res.end('ok'));
    await fetch((await serve(withUs as never)) + '/');
    const other = express();
    other.use((req: any, _res, next) => {
      req.session = { foreign: true };
      req.sessionID = 'x';
      next();
    });
    other.get('/', (req: any, res) => {
      const before = [Object.prototype.hasOwnProperty.call(req, 'session'), req.session?.foreign, req.sessionID];
      delete req.session;
      res.json({ before, after: req.session ?? null });
    });
    const r = await fetch((await serve(other as never)) + '/');
    expect(await r.json()).toEqual({ before: [true, true, 'x'], after: null });
  });
});
