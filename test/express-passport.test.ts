/** Real passport + passport-local over the sessionward Express adapter. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import express from 'express';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { session, coreSession } from '../src/adapters/express/index.js';
import { SessionManager, MemoryStore, type SessionEvent } from '../src/index.js';
import { listen, close } from '../bench/lib/http.js';
import { SECRET } from './helpers/core.js';

const users = new Map([['alice', { id: 'u-alice', password: 'correct horse' }]]);
const events: SessionEvent[] = [];
const store = new MemoryStore();
const manager = new SessionManager<any>({ store, secrets: [SECRET], rotationGrace: 0, onEvent: (e) => events.push(e) });

passport.use(new LocalStrategy((username, password, done) => {
  const u = users.get(username);
  done(null, u && u.password === password ? { id: u.id, name: username } : false);
}));
passport.serializeUser((user: any, done) => done(null, user.id));
passport.deserializeUser((id: string, done) => done(null, { id }));

let server: Server;
let url: string;
beforeAll(async () => {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ manager }));
  app.use(passport.session());
  app.get('/me', (req: any, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ user: req.user?.id ?? null, coreUser: coreSession(req)?.userId ?? null, visits: req.session.visits });
  });
  app.post('/login', passport.authenticate('local', { failureRedirect: '/login?failed' }), (req: any, res) => res.json({ user: req.user.id }));
  app.post('/logout', (req: any, res, next) => req.logout((err: unknown) => (err ? next(err) : res.json({ ok: true }))));
  server = createServer(app);
  url = await listen(server);
});
afterAll(() => close(server));

function cookieOf(r: Response, prev = ''): string {
  for (const c of r.headers.getSetCookie()) {
    if (!c.startsWith('__Host-sid=')) continue;
    return /Max-Age=0/.test(c) ? '' : c.split(';')[0]!;
  }
  return prev;
}

const form = (body: Record<string, string>, cookie: string) => ({
  method: 'POST',
  redirect: 'manual' as const,
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
  body: new URLSearchParams(body).toString(),
});

describe('passport login/logout over sessionward', () => {
  it('SEC-15: passport login rotates the token, records the user in the core, and the pre-login token dies', async () => {
    const r0 = await fetch(url + '/me');
    expect(await r0.json()).toEqual({ user: null, coreUser: null, visits: 1 });
    const anon = cookieOf(r0);
    expect(anon).not.toBe('');

    const bad = await fetch(url + '/login', form({ username: 'alice', password: 'wrong' }, anon));
    expect(bad.status).toBe(302);

    const r1 = await fetch(url + '/login', form({ username: 'alice', password: 'correct horse' }, anon));
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({ user: 'u-alice' });
    const authed = cookieOf(r1);
    expect(authed).not.toBe('');
    expect(authed).not.toBe(anon);
    expect(events.some((e) => e.type === 'session.rotated' && e.userId === 'u-alice')).toBe(true);

    const me = await fetch(url + '/me', { headers: { cookie: authed } });
    // regenerate() starts from empty data (express-session semantics): visits restart.
    expect(await me.json()).toEqual({ user: 'u-alice', coreUser: 'u-alice', visits: 1 });
    // The fixation-prone pre-login token is gone (SEC-15).
    const old = await fetch(url + '/me', { headers: { cookie: anon } });
    expect(((await old.json()) as any).user).toBeNull();
    expect((await manager.listUserSessions('u-alice')).length).toBe(1);

    // SEC-36: logout clears the cookie with Max-Age=0 and kills the authenticated token.
    const out = await fetch(url + '/logout', { method: 'POST', headers: { cookie: authed } });
    expect(out.status).toBe(200);
    const cleared = out.headers.getSetCookie().filter((c) => c.startsWith('__Host-sid='));
    expect(cleared.at(-1)).toMatch(/^__Host-sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; Secure; HttpOnly; SameSite=Lax/);
    const after = await fetch(url + '/me', { headers: { cookie: authed } });
    expect(((await after.json()) as any).user).toBeNull();
    expect(await manager.listUserSessions('u-alice')).toEqual([]);
  });
});
