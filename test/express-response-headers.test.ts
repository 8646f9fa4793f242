/**
 * The session's own response headers survive the app's (issue 20 finding 3): headers handed to
 * `res.writeHead(status, headers)`, or set after `save()`, append their Set-Cookie values and can
 * never make a response that sets a session cookie cacheable (SEC-13). Express 5 and 4, and the
 * plain node:http adapter.
 */
import { describe, expect, it } from 'vitest';
import express5 from 'express';
// @ts-expect-error the express4 alias has no types of its own; it is typed as Express below
import express4 from 'express4';
import { session } from '../src/adapters/express/index.js';
import { nodeSessions } from '../src/adapters/node.js';
import { MemoryStore, SessionManager } from '../src/index.js';
import { parseSetCookie } from '../src/cookie/index.js';
import { SECRET } from './helpers/core.js';
import { useServers } from './helpers/serve.js';

type Express = typeof express5;
const serve = useServers();

const names = (res: Response): string[] => res.headers.getSetCookie().map((c) => parseSetCookie(c)!.name);
const APP_HEADERS = { 'Set-Cookie': 'theme=dark; Path=/', 'Cache-Control': 'public, max-age=600' };

describe.each([
  ['Express 5', express5 as Express],
  ['Express 4', express4 as unknown as Express],
])('%s', (_name, express) => {
  async function start(routes: (app: ReturnType<Express>) => void): Promise<string> {
    const app = express();
    app.use(session({ secret: SECRET }));
    routes(app);
    return serve(app as never);
  }

  it('SEC-13: a login answered with writeHead(status, headers) keeps its session cookie, adds the app cookie, and stays no-store', async () => {
    const url = await start((app) =>
      app.get('/login', (req: any, res) => {
        req.session.passport = { user: 'alice' };
        res.writeHead(200, APP_HEADERS);
        res.end('ok');
      }),
    );
    const r = await fetch(url + '/login');
    expect(names(r).sort()).toEqual(['__Host-sid', 'theme']);
    expect(r.headers.get('cache-control')).toBe('no-store');
    // The rotated login cookie is the one that went out: it reaches the signed-in session.
    expect(r.headers.getSetCookie().find((c) => c.startsWith('__Host-sid='))).toMatch(/HttpOnly/);
  });

  it('SEC-13: the flat-array form of writeHead headers is merged the same way', async () => {
    const url = await start((app) =>
      app.get('/login', (req: any, res) => {
        req.session.passport = { user: 'alice' };
        res.writeHead(201, 'Made', ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Cache-Control', 'public']);
        res.end('ok');
      }),
    );
    const r = await fetch(url + '/login');
    expect(r.status).toBe(201);
    expect(names(r).sort()).toEqual(['__Host-sid', 'a', 'b']);
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('SEC-13: Cache-Control and Set-Cookie set after save() cannot undo the saved session cookie', async () => {
    const url = await start((app) =>
      app.get('/login', (req: any, res, next) => {
        req.session.passport = { user: 'alice' };
        req.session.save((err: unknown) => {
          if (err) return next(err);
          res.setHeader('Cache-Control', 'public, max-age=600');
          res.setHeader('Set-Cookie', 'theme=dark');
          res.end('ok');
        });
      }),
    );
    const r = await fetch(url + '/login');
    expect(names(r).sort()).toEqual(['__Host-sid', 'theme']);
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('a streamed response held behind a slow store reports backpressure and gets its drain, body intact', async () => {
    const store = new MemoryStore();
    const create = store.create.bind(store);
    store.create = async (r) => {
      await new Promise((ok) => setTimeout(ok, 150));
      return create(r);
    };
    const app = express();
    app.use(session({ secret: SECRET, store }));
    let seen: { results: boolean[]; drained: boolean } | null = null;
    // The response's own buffer limit: 16 KiB before Node 22, 64 KiB since.
    let hwm = 0;
    app.get('/stream', (req: any, res) => {
      hwm = res.writableHighWaterMark;
      req.session.n = 1;
      const chunk = 'x'.repeat(8192);
      const results: boolean[] = [];
      // Write until told to wait (bounded: the old code never said so).
      for (let i = 0; i < 64 && (results.length === 0 || results.at(-1)); i++) results.push(res.write(chunk));
      res.once('drain', () => {
        seen = { results, drained: true };
        res.end('end');
      });
    });
    const url = await serve(app as never);
    const r = await fetch(url + '/stream');
    const body = await r.text();
    expect(seen).not.toBeNull();
    expect(seen!.results.at(-1)).toBe(false);
    expect(hwm).toBeGreaterThan(0);
    expect(seen!.results.length).toBeLessThanOrEqual(Math.ceil(hwm / 8192) + 1);
    expect(body).toBe('x'.repeat(8192 * seen!.results.length) + 'end');
    expect(names(r)).toEqual(['__Host-sid']);
  });

  it('a response that sets no session cookie keeps the app\'s own caching headers', async () => {
    const url = await start((app) =>
      app.get('/static', (_req, res) => {
        res.writeHead(200, APP_HEADERS);
        res.end('ok');
      }),
    );
    const r = await fetch(url + '/static');
    expect(names(r)).toEqual(['theme']);
    expect(r.headers.get('cache-control')).toBe('public, max-age=600');
  });
});

describe('node:http adapter', () => {
  it('SEC-13: writeHead(status, headers) after commit keeps the session cookie and no-store', async () => {
    const manager = new SessionManager<Record<string, unknown>>({ store: new MemoryStore(), secrets: [SECRET] });
    const sessions = nodeSessions(manager);
    const url = await serve((req, res) => {
      void (async () => {
        const s = await sessions.load(req);
        await s.login('alice');
        await sessions.commit(s, res);
        res.writeHead(200, APP_HEADERS);
        res.end('ok');
      })();
    });
    const r = await fetch(url + '/');
    expect(names(r).sort()).toEqual(['__Host-sid', 'theme']);
    expect(r.headers.get('cache-control')).toBe('no-store');
  });
});
