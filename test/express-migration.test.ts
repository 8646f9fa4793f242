/**
 * Migration from express-session + connect-redis without logging anyone out. The old data is
 * written by the REAL express-session 1.x + connect-redis 9 on a real Redis (127.0.0.1:6379,
 * unique prefix), then read by sessionward with the old secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import express from 'express';
import expressSession from 'express-session';
import { RedisStore as ConnectRedis } from 'connect-redis';
import { createClient } from 'redis';
import { session, coreSession, unsignLegacy } from '../src/adapters/express/index.js';
import { SessionManager, MemoryStore } from '../src/index.js';
import { listen, close } from '../bench/lib/http.js';
import { SECRET } from './helpers/core.js';

const OLD_SECRET = 'keyboard cat';
const prefix = `swtest-mig-${randomBytes(6).toString('hex')}:`;
const client = createClient({ url: 'redis://127.0.0.1:6379' });
const legacyStore = new ConnectRedis({ client, prefix });
let oldServer: Server;
let newServer: Server;
let oldUrl: string;
let newUrl: string;
const manager = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET], warn: () => undefined });

beforeAll(async () => {
  await client.connect();
  const old = express();
  old.use(expressSession({ secret: ['rotated-newer-secret', OLD_SECRET], store: legacyStore, resave: false, saveUninitialized: false }));
  old.get('/login/:user', (req: any, res) => {
    req.session.passport = { user: req.params.user };
    req.session.cart = ['sku-1', 'sku-2'];
    res.json({ id: req.sessionID });
  });
  old.get('/remember/:user', (req: any, res) => {
    req.session.cookie.maxAge = 2 * 3600_000;
    req.session.passport = { user: req.params.user };
    res.json({ id: req.sessionID });
  });
  old.get('/anon', (req: any, res) => {
    req.session.theme = 'dark';
    res.json({ id: req.sessionID });
  });
  oldServer = createServer(old);
  oldUrl = await listen(oldServer);

  const app = express();
  app.use(session({ manager, legacy: { secrets: ['rotated-newer-secret', OLD_SECRET], store: legacyStore } }));
  app.get('/me', (req: any, res) => res.json({ user: coreSession(req)?.userId ?? null, cart: req.session.cart ?? null, theme: req.session.theme ?? null }));
  app.get('/fresh', (req: any, res) => {
    const s = coreSession(req)!;
    let fresh = true;
    try {
      s.requireFreshAuth(3_600_000);
    } catch {
      fresh = false;
    }
    res.json({ user: s.userId, fresh, authTime: s.authTime, abs: s.absoluteExpiresAt });
  });
  newServer = createServer(app);
  newUrl = await listen(newServer);
});

afterAll(async () => {
  await close(oldServer);
  await close(newServer);
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await client.del(keys);
  await client.quit();
});

async function oldCookie(path: string): Promise<{ cookie: string; id: string }> {
  const r = await fetch(oldUrl + path);
  const { id } = (await r.json()) as { id: string };
  const c = r.headers.getSetCookie().find((x) => x.startsWith('connect.sid='))!;
  return { cookie: c.split(';')[0]!, id };
}

describe('express-session -> sessionward migration', () => {
  it('verifies the cookie-signature format exactly as express-session writes it', async () => {
    const { cookie, id } = await oldCookie('/anon');
    const raw = decodeURIComponent(cookie.slice('connect.sid='.length));
    expect(unsignLegacy(raw, [OLD_SECRET])).toBeNull(); // signed with the newest secret
    expect(unsignLegacy(raw, ['rotated-newer-secret'])).toBe(id);
    expect(unsignLegacy(raw.slice(0, -1) + (raw.endsWith('A') ? 'B' : 'A'), ['rotated-newer-secret'])).toBeNull();
    expect(unsignLegacy(raw.slice(2), ['rotated-newer-secret'])).toBeNull();
  });

  it('a logged-in express-session user is upgraded once, keeps data and login, old entry deleted, old cookie cleared', async () => {
    const { cookie, id } = await oldCookie('/login/u-42');
    expect(await client.exists(prefix + id)).toBe(1);

    const r = await fetch(newUrl + '/me', { headers: { cookie } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ user: 'u-42', cart: ['sku-1', 'sku-2'], theme: null });
    const set = r.headers.getSetCookie();
    const fresh = set.find((c) => c.startsWith('__Host-sid='))!;
    expect(fresh).toMatch(/Secure; HttpOnly; SameSite=Lax/);
    expect(set.find((c) => c.startsWith('connect.sid='))).toMatch(/^connect\.sid=; Max-Age=0; Path=\//);
    expect(await client.exists(prefix + id)).toBe(0);
    expect((await manager.listUserSessions('u-42')).length).toBe(1);

    // The new cookie works on its own.
    const next = fresh.split(';')[0]!;
    expect(await (await fetch(newUrl + '/me', { headers: { cookie: next } })).json()).toEqual({ user: 'u-42', cart: ['sku-1', 'sku-2'], theme: null });
    // Accepted once: replaying the old cookie yields nothing.
    const replay = await fetch(newUrl + '/me', { headers: { cookie } });
    expect(await replay.json()).toEqual({ user: null, cart: null, theme: null });
    expect(replay.headers.getSetCookie().some((c) => c.startsWith('__Host-sid='))).toBe(false);
  });

  it('an anonymous session migrates its data without a user', async () => {
    const { cookie } = await oldCookie('/anon');
    const r = await fetch(newUrl + '/me', { headers: { cookie } });
    expect(await r.json()).toEqual({ user: null, cart: null, theme: 'dark' });
  });

  it('SEC-3: a forged connect.sid is never looked up; it is cleared and a fresh session starts', async () => {
    const { id } = await oldCookie('/login/u-7');
    const forged = `connect.sid=${encodeURIComponent(`s:${id}.${'A'.repeat(43)}`)}`;
    const r = await fetch(newUrl + '/me', { headers: { cookie: forged } });
    expect(await r.json()).toEqual({ user: null, cart: null, theme: null });
    expect(r.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))).toMatch(/Max-Age=0/);
    expect(await client.exists(prefix + id)).toBe(1);
    const unsigned = await fetch(newUrl + '/me', { headers: { cookie: `connect.sid=${id}` } });
    expect(((await unsigned.json()) as any).user).toBeNull();
  });

  it('the redis-client form (prefix) works too', async () => {
    const app = express();
    const m = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET] });
    app.use(session({ manager: m, legacy: { secrets: ['rotated-newer-secret'], redis: { client, prefix } } }));
    app.get('/me', (req: any, res) => res.json({ user: coreSession(req)?.userId ?? null, cart: req.session.cart ?? null }));
    const s = createServer(app);
    const u = await listen(s);
    try {
      const { cookie, id } = await oldCookie('/login/u-9');
      expect(await (await fetch(u + '/me', { headers: { cookie } })).json()).toEqual({ user: 'u-9', cart: ['sku-1', 'sku-2'] });
      expect(await client.exists(prefix + id)).toBe(0);
    } finally {
      await close(s);
    }
  });

  it('SEC-14: a migrated sign-in fails every freshness check and keeps no later deadline than the old cookie allowed', async () => {
    const before = Date.now();
    const { cookie } = await oldCookie('/remember/u-fresh');
    const r = await fetch(newUrl + '/fresh', { headers: { cookie } });
    const body = (await r.json()) as { user: string; fresh: boolean; authTime: number | null; abs: number };
    expect(body.user).toBe('u-fresh');
    expect(body.fresh).toBe(false);
    expect(body.authTime).toBeNull();
    // The old cookie expired 2 h after its last save; the default absolute lifetime is longer.
    expect(body.abs).toBeLessThanOrEqual(before + 2 * 3600_000 + 5_000);
    expect(manager.options.absoluteTimeout).toBeGreaterThan(2 * 3600_000 + 60_000);
    // Still stale on the next request with the new cookie (a regenerate or rotation keeps it so).
    const next = r.headers.getSetCookie().find((c) => c.startsWith('__Host-sid='))!.split(';')[0]!;
    expect(((await (await fetch(newUrl + '/fresh', { headers: { cookie: next } })).json()) as { fresh: boolean }).fresh).toBe(false);
  });

  it('a browser-session legacy cookie keeps at most legacy.ttlMs (the old store\'s TTL) of life', async () => {
    const app = express();
    const m = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET] });
    app.use(session({ manager: m, legacy: { secrets: ['rotated-newer-secret'], redis: { client, prefix }, ttlMs: 60_000 } }));
    app.get('/me', (_req: any, res) => res.json({ abs: coreSession(_req)!.absoluteExpiresAt, authTime: coreSession(_req)!.authTime }));
    const s = createServer(app);
    const u = await listen(s);
    try {
      const { cookie } = await oldCookie('/login/u-ttl');
      const before = Date.now();
      const body = (await (await fetch(u + '/me', { headers: { cookie } })).json()) as { abs: number; authTime: number | null };
      expect(body.authTime).toBeNull();
      expect(body.abs).toBeLessThanOrEqual(before + 60_000 + 5_000);
    } finally {
      await close(s);
    }
  });

  it('SEC-20: concurrent replays of one old cookie during a slow handler migrate it once', async () => {
    const app = express();
    const m = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET] });
    app.use(session({ manager: m, legacy: { secrets: ['rotated-newer-secret'], store: legacyStore } }));
    app.get('/slow', (req: any, res) => {
      setTimeout(() => res.json({ user: coreSession(req)?.userId ?? null }), 50);
    });
    const s = createServer(app);
    const u = await listen(s);
    try {
      const { cookie, id } = await oldCookie('/login/u-race');
      const rs = await Promise.all(Array.from({ length: 6 }, () => fetch(u + '/slow', { headers: { cookie } })));
      const users = await Promise.all(rs.map(async (r) => ((await r.json()) as { user: string | null }).user));
      expect(users.filter((x) => x === 'u-race')).toHaveLength(1);
      expect(rs.filter((r) => r.headers.getSetCookie().some((c) => c.startsWith('__Host-sid=')))).toHaveLength(1);
      expect(await m.listUserSessions('u-race')).toHaveLength(1);
      expect(await client.exists(prefix + id)).toBe(0);
    } finally {
      await close(s);
    }
  });
});
