/** Next.js helper, exercised with real Request objects (Next.js itself is not installed). */
import { describe, expect, it } from 'vitest';
import { nextSessions } from '../src/adapters/next.js';
import { SessionManager, MemoryStore } from '../src/index.js';
import { webCrypto } from '../src/crypto/web.js';
import { getCsrfToken } from '../src/csrf/index.js';
import { SECRET } from './helpers/core.js';

const manager = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET], crypto: webCrypto });
const sessions = nextSessions(manager, { csrf: { origin: 'https://app.example.com', token: true } });

describe('next helper', () => {
  it('route(): loads, passes the route context through, commits; SEC-22 header token on POST', async () => {
    const GET = sessions.route<{ params: { id: string } }>(async (_req, session, ctx) => Response.json({ token: getCsrfToken(session), id: ctx.params.id }));
    const POST = sessions.route(async (_req, session) => {
      session.set('done', true);
      return Response.json({ ok: true });
    });
    const g = await GET(new Request('https://app.example.com/api/x'), { params: { id: '7' } });
    const { token, id } = (await g.json()) as { token: string; id: string };
    expect(id).toBe('7');
    const cookie = g.headers.getSetCookie()[0]!.split(';')[0]!;
    const post = (t: string, site = 'same-origin') => POST(new Request('https://app.example.com/api/x', { method: 'POST', headers: { cookie, 'sec-fetch-site': site, 'x-csrf-token': t } }), undefined);
    const ok = await post(token);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('vary')).toMatch(/Sec-Fetch-Site, Origin/);
    expect((await post('C'.repeat(86))).status).toBe(403);
    expect((await post(token, 'cross-site')).status).toBe(403);
  });

  it('middleware(): keeps Next.js control headers (x-middleware-next) and redirects', async () => {
    const mw = sessions.middleware(async (req, session) => {
      if (!session.isAuthenticated) return Response.redirect(new URL('/login', req.url), 307);
      return new Response(null, { headers: { 'x-middleware-next': '1' } });
    });
    const r = await mw(new Request('https://app.example.com/account'));
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe('https://app.example.com/login');

    const s = await sessions.load(new Request('https://app.example.com/'));
    await s.login('alice');
    const committed = await sessions.commit(s, new Response('ok'));
    const cookie = committed.headers.getSetCookie()[0]!.split(';')[0]!;
    const through = await mw(new Request('https://app.example.com/account', { headers: { cookie } }));
    expect(through.headers.get('x-middleware-next')).toBe('1');
  });
});
