/**
 * An Express 5 app on `sessionward/express`, bundled by test/runtimes-web.test.ts and run on Bun
 * (whose node:http reimplements ServerResponse: replaying a held writeHead crashed it, issue 22).
 * `selfTest()` serves it on a free port and drives it from inside the runtime: a write that
 * creates the session, a login (the token rotates), reads that bring the cookie back, a redirect
 * after `save()`, and a logout that clears the cookie.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { coreSession, session } from '../../src/adapters/express/index.js';

const SECRET = 'runtime-smoke-secret-0123456789abcdefghijklmnopq';

export interface ExpressReport {
  status: number[];
  views: unknown[];
  user: unknown;
  rotated: boolean;
  redirect: string | null;
  cleared: boolean;
}

export async function selfTest(): Promise<ExpressReport> {
  const app = express();
  // Plain HTTP on loopback: the __Host- prefix and Secure need HTTPS.
  app.use(session({ secret: SECRET, cookie: { insecureDevelopmentCookies: true } }));
  app.get('/views', (req: any, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ views: req.session.views });
  });
  app.get('/read', (req: any, res) => res.json({ views: req.session.views ?? null, user: coreSession(req)?.userId ?? null }));
  app.get('/login', (req: any, res) => {
    req.session.passport = { user: 'ada' };
    req.session.save(() => res.redirect('/read'));
  });
  app.get('/logout', (req: any, res) => req.session.destroy(() => res.status(204).end()));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    let cookie = '';
    const get = async (path: string): Promise<Response> => {
      const r = await fetch(url + path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
      const set = r.headers.getSetCookie().find((c) => c.startsWith('sid='));
      if (set) cookie = set.split(';')[0]!;
      return r;
    };
    const status: number[] = [];
    const views: unknown[] = [];
    for (const path of ['/views', '/views', '/read']) {
      const r = await get(path);
      status.push(r.status);
      views.push(((await r.json()) as { views: unknown }).views);
    }
    const before = cookie;
    const login = await get('/login');
    status.push(login.status);
    const rotated = cookie !== before && cookie !== '';
    const me = await get('/read');
    status.push(me.status);
    const user = ((await me.json()) as { user: unknown }).user;
    const out = await get('/logout');
    status.push(out.status);
    const cleared = out.headers.getSetCookie().some((c) => c.startsWith('sid=;') && /Max-Age=0/i.test(c));
    return { status, views, user, rotated, redirect: login.headers.get('location'), cleared };
  } finally {
    server.close();
  }
}
