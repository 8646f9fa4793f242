import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { sessionMiddleware, type SessionVariables } from '../src/adapters/hono.js';
import { SessionManager, MemoryStore } from '../src/index.js';
import { getCsrfToken } from '../src/csrf/index.js';
import { webCrypto } from '../src/crypto/web.js';
import { SECRET } from './helpers/core.js';

function app() {
  const manager = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET], crypto: webCrypto });
  const a = new Hono<{ Variables: SessionVariables }>();
  a.use(sessionMiddleware(manager, { csrf: { origin: 'https://app.example.com', token: true } }));
  a.get('/form', (c) => c.json({ token: getCsrfToken(c.get('session')) }));
  a.post('/submit', async (c) => {
    const body = await c.req.parseBody();
    c.get('session').set('last', String(body.msg));
    return c.json({ ok: true });
  });
  a.get('/redirect', (c) => {
    c.get('session').set('r', 1);
    // Response.redirect has immutable headers: the middleware must still add the cookie.
    return Response.redirect('https://app.example.com/next', 302);
  });
  return a;
}

describe('hono middleware', () => {
  it('SEC-22: a form post carries the token in the body; the handler can still read the parsed body', async () => {
    const a = app();
    const f = await a.request('/form');
    const cookie = f.headers.getSetCookie()[0]!.split(';')[0]!;
    const { token } = (await f.json()) as { token: string };
    const post = (t: string) => a.request('/submit', {
      method: 'POST',
      headers: { cookie, origin: 'https://app.example.com', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: t, msg: 'hi' }).toString(),
    });
    const ok = await post(token);
    expect(ok.status).toBe(200);
    expect((await post('B'.repeat(86))).status).toBe(403);
  });

  it('adds the cookie to a Response with immutable headers (WebCrypto manager, edge-style)', async () => {
    const r = await app().request('/redirect');
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('https://app.example.com/next');
    expect(r.headers.getSetCookie()[0]).toMatch(/^__Host-sid=/);
  });
});
