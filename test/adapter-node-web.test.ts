import { describe, it, expect } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionManager, MemoryStore, StoreUnavailableError } from '../src/index.js';
import { nodeSessions, sendError } from '../src/adapters/node.js';
import { withSession } from '../src/adapters/web.js';
import type { SessionStore } from '../src/stores/types.js';
import { SECRET } from './helpers/core.js';

/** A store whose backend is unreachable: every call rejects as a real driver would after its timeout. */
const downStore: SessionStore = {
  name: 'down',
  get: () => Promise.reject(new StoreUnavailableError()),
  create: () => Promise.reject(new StoreUnavailableError()),
  update: () => Promise.reject(new StoreUnavailableError()),
  touch: () => Promise.reject(new StoreUnavailableError()),
  delete: () => Promise.reject(new StoreUnavailableError()),
  listByUser: () => Promise.reject(new StoreUnavailableError()),
  deleteByUser: () => Promise.reject(new StoreUnavailableError()),
};

describe('web adapter', () => {
  const manager = new SessionManager<{ n?: number }>({ store: new MemoryStore(), secrets: [SECRET] });
  const handler = withSession(manager, async (req, session) => {
    if (new URL(req.url).pathname === '/login') await session.login('web-user');
    if (new URL(req.url).pathname === '/logout') await session.destroy();
    return Response.json({ user: session.isNew ? null : session.userId });
  });

  it('SEC-4: logs in, sets a Secure HttpOnly cookie, and never puts the token in the body', async () => {
    const res = await handler(new Request('https://app.test/login', { method: 'POST' }));
    const [setCookie] = res.headers.getSetCookie();
    expect(setCookie).toMatch(/^__Host-sid=[\w-]{43}\.[\w-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const value = setCookie!.split(';')[0]!.split('=')[1]!;
    const body = await res.text();
    expect(body).not.toContain(value.split('.')[0]);
    const again = await handler(new Request('https://app.test/me', { headers: { cookie: setCookie!.split(';')[0]! } }));
    expect(await again.json()).toEqual({ user: 'web-user' });
  });

  it('SEC-36: logout clears the cookie and the old cookie is rejected afterwards', async () => {
    const res = await handler(new Request('https://app.test/login', { method: 'POST' }));
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    const out = await handler(new Request('https://app.test/logout', { method: 'POST', headers: { cookie } }));
    expect(out.headers.getSetCookie()[0]).toMatch(/^__Host-sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    expect(await (await handler(new Request('https://app.test/me', { headers: { cookie } }))).json()).toEqual({ user: null });
  });

  it('a down store is a 503 with a stable code and no detail', async () => {
    const down = withSession(new SessionManager({ store: downStore, secrets: [SECRET] }), () => new Response('x'));
    const cookie = (await handler(new Request('https://app.test/login'))).headers.getSetCookie()[0]!.split(';')[0]!;
    const res = await down(new Request('https://app.test/', { headers: { cookie } }));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'ERR_STORE_UNAVAILABLE' });
  });
});

describe('node adapter', () => {
  it('hostile cookie headers never crash the server and get a fresh session', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secrets: [SECRET] });
    const sessions = nodeSessions(manager);
    const server = http.createServer(async (req, res) => {
      try {
        const s = await sessions.load(req);
        await sessions.commit(s, res);
        res.end(s.isNew ? 'new' : 'old');
      } catch (e) {
        if (!sendError(res, e)) { res.statusCode = 500; res.end('bug'); }
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const hostile = ['__Host-sid=%', '__Host-sid=' + 'A'.repeat(8000), '__Host-sid=\u00ff\u00fe', '__Host-sid=a.b.c; __Host-sid=x', ';;=;;'];
    for (const cookie of hostile) {
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie: Buffer.from(cookie, 'latin1').toString('latin1') } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('new');
    }
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
