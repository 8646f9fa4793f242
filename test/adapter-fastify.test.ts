import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { fastifySessionward, sessionOf } from '../src/adapters/fastify.js';
import { SessionManager, MemoryStore } from '../src/index.js';
import { verifyCsrfToken, type CsrfEvent } from '../src/csrf/index.js';
import { SECRET } from './helpers/core.js';

const manager = () => new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET] });

describe('fastify plugin', () => {
  it('skip-override: registered at the root, its hooks reach routes declared on the root', async () => {
    const app = Fastify();
    await app.register(fastifySessionward, { manager: manager() });
    app.get('/', async (req) => {
      sessionOf(req).set('n', 1);
      return { ok: true };
    });
    const r = await app.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(200);
    expect(String(r.headers['set-cookie'])).toMatch(/^__Host-sid=/);
    await app.close();
  });

  it('encapsulation is respected: registered inside a child scope, sibling scopes have no session', async () => {
    const app = Fastify();
    await app.register(async (child) => {
      await child.register(fastifySessionward, { manager: manager() });
      child.get('/inside', async (req) => ({ has: !!(req as any).session }));
    });
    app.get('/outside', async (req) => ({ has: !!(req as any).session }));
    expect((await app.inject({ url: '/inside' })).json()).toEqual({ has: true });
    expect((await app.inject({ url: '/outside' })).json()).toEqual({ has: false });
    expect(() => sessionOf({} as any)).toThrow(/not registered/);
    await app.close();
  });

  it('SEC-22: request.csrfToken() with the header token check, 403 + event on a bad token', async () => {
    const events: CsrfEvent[] = [];
    const m = manager();
    const app = Fastify();
    await app.register(fastifySessionward, { manager: m, csrf: { origin: 'https://app.example.com', token: true, onEvent: (e) => events.push(e) } });
    app.get('/form', async (req) => ({ token: (req as any).csrfToken() }));
    app.post('/do', async (req) => ({ ok: verifyCsrfToken(sessionOf(req), req.headers['x-csrf-token'] as string) }));
    const f = await app.inject({ url: '/form' });
    const cookie = String(f.headers['set-cookie']).split(';')[0]!;
    const token = f.json().token as string;
    const headers = { cookie, 'sec-fetch-site': 'same-origin' };
    expect((await app.inject({ method: 'POST', url: '/do', headers: { ...headers, 'x-csrf-token': token } })).json()).toEqual({ ok: true });
    const bad = await app.inject({ method: 'POST', url: '/do', headers: { ...headers, 'x-csrf-token': 'A'.repeat(86) } });
    expect(bad.statusCode).toBe(403);
    expect(bad.json()).toEqual({ error: 'ERR_CSRF' });
    expect(bad.headers.vary).toMatch(/Sec-Fetch-Site, Origin/);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'csrf.rejected', reason: 'token-invalid', method: 'POST' });
    expect(events[0]!.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await app.close();
  });
});
