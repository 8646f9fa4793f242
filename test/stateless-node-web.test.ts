/**
 * The iron-session-like helpers on real node:http and on Web Request/Response: secure cookie
 * attributes by default (SEC-4/5/6/8), `Cache-Control: no-store` with every Set-Cookie (SEC-13),
 * logout clearing every chunk with the same attributes (SEC-36).
 */
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseSetCookie } from '../src/cookie/index.js';
import { getSealedSession, getSealedSessionWeb, type SealedSessionOptions } from '../src/stateless/index-sealed.js';
import { listen, close } from '../bench/lib/http.js';

const options: SealedSessionOptions = { keys: [{ id: 'k1', key: randomBytes(32) }] };
const cookieOf = (lines: readonly string[]): string => lines.filter((l) => !l.includes('Max-Age=0')).map((l) => l.split(';')[0]!).join('; ');

describe('getSealedSession on node:http', () => {
  it('SEC-4: sets a __Host- Secure HttpOnly SameSite=Lax session cookie, non-persistent, with no-store', async () => {
    const server = http.createServer(async (req, res) => {
      const s = await getSealedSession<{ n?: number; blob?: string }>(req, res, options);
      if (req.url === '/logout') await s.destroy();
      else {
        s.n = (s.n ?? 0) + 1;
        if (req.url === '/big') s.blob = randomBytes(4000).toString('base64url');
        await s.save();
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ n: s.n ?? null }));
    });
    const base = await listen(server);
    try {
      const r1 = await fetch(`${base}/`);
      expect(await r1.json()).toEqual({ n: 1 });
      const set = r1.headers.getSetCookie();
      expect(set).toHaveLength(1);
      const c = parseSetCookie(set[0]!)!;
      expect(c.name).toBe('__Host-session');
      expect(c.attributes).toMatchObject({ path: '/', secure: true, httponly: true, samesite: 'Lax' });
      expect(c.attributes).not.toHaveProperty('max-age');
      expect(c.attributes).not.toHaveProperty('domain');
      expect(r1.headers.get('cache-control')).toBe('no-store');

      const r2 = await fetch(`${base}/big`, { headers: { cookie: cookieOf(set) } });
      expect(await r2.json()).toEqual({ n: 2 });
      const chunks = r2.headers.getSetCookie();
      expect(chunks.some((l) => l.startsWith('__Host-session.1='))).toBe(true);

      const r3 = await fetch(`${base}/logout`, { headers: { cookie: cookieOf(chunks) } });
      expect(await r3.json()).toEqual({ n: null });
      const cleared = r3.headers.getSetCookie().map((l) => parseSetCookie(l)!);
      expect(cleared.length).toBeGreaterThanOrEqual(2);
      for (const k of cleared) expect(k.attributes).toMatchObject({ 'max-age': '0', path: '/', secure: true, httponly: true, samesite: 'Lax' });
    } finally {
      await close(server);
    }
  });

  it('keeps Set-Cookie lines other code put on the response', async () => {
    const server = http.createServer(async (req, res) => {
      res.setHeader('Set-Cookie', ['theme=dark; Path=/']);
      const s = await getSealedSession<{ n?: number }>(req, res, options);
      s.n = 1;
      await s.save();
      await s.save();
      res.end();
    });
    const base = await listen(server);
    try {
      const set = (await fetch(base)).headers.getSetCookie();
      expect(set).toHaveLength(2);
      expect(set[0]).toBe('theme=dark; Path=/');
    } finally {
      await close(server);
    }
  });
});

describe('getSealedSessionWeb', () => {
  it('round-trips through Request/Response with applyTo()', async () => {
    const s = await getSealedSessionWeb<{ user?: string }>(new Request('https://app.example/'), options);
    s.user = 'ada';
    await s.save();
    const res = s.applyTo(new Response('ok'));
    expect(res.headers.get('cache-control')).toBe('no-store');
    const cookie = cookieOf(res.headers.getSetCookie());
    const s2 = await getSealedSessionWeb<{ user?: string }>(new Request('https://app.example/', { headers: { cookie } }), options);
    expect(s2.user).toBe('ada');
    // A response without changes carries no Set-Cookie and no forced no-store.
    const plain = s2.applyTo(new Response('ok'));
    expect(plain.headers.getSetCookie()).toEqual([]);
  });

  it('the WebCrypto path reads cookies sealed by the node path (same options, same keys)', async () => {
    const server = http.createServer(async (req, res) => {
      const s = await getSealedSession<{ user?: string }>(req, res, options);
      s.user = 'from-node';
      await s.save();
      res.end();
    });
    const base = await listen(server);
    try {
      const cookie = cookieOf((await fetch(base)).headers.getSetCookie());
      const s = await getSealedSessionWeb<{ user?: string }>(new Request('https://x/', { headers: { cookie } }), options);
      expect(s.user).toBe('from-node');
    } finally {
      await close(server);
    }
  });
});
