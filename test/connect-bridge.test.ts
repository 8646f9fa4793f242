import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import pg from 'pg';
import { SqliteStore } from '../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../src/stores/postgres.js';
import { MemoryStore } from '../src/stores/memory.js';
import { ExpressSessionStore, toExpressSessionStore } from '../src/stores/connect.js';
import type { SessionStore } from '../src/stores/types.js';

declare module 'express-session' {
  interface SessionData {
    n: number;
    passport: { user: string };
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const dir = mkdtempSync(join(tmpdir(), 'sessionward-connect-'));
const schema = `sw_connect_${randomBytes(6).toString('hex')}`;
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: process.env.PGUSER ?? 'postgres' });

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
});

interface App {
  url: string;
  server: Server;
  bridge: ExpressSessionStore;
  /** Resolves the /hold request once the test releases it. */
  gate: { wait?: Promise<void>; release?: () => void; entered?: () => void };
}

async function startApp(store: SessionStore, maxAge?: number): Promise<App> {
  const bridge = toExpressSessionStore(store);
  const gate: App['gate'] = {};
  const app = express();
  app.use(
    session({
      store: bridge,
      secret: 'a test secret that is long enough for express-session',
      resave: false,
      saveUninitialized: false,
      name: 'sid',
      cookie: maxAge ? { maxAge } : {},
    }),
  );
  app.get('/inc', (req, res) => {
    req.session.n = (req.session.n ?? 0) + 1;
    res.json({ n: req.session.n });
  });
  app.get('/read', (req, res) => {
    res.json({ n: req.session.n ?? null, id: req.sessionID });
  });
  app.get('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.passport = { user: String(req.query.user) };
      req.session.n = 100;
      res.json({ ok: true });
    });
  });
  app.get('/destroy', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.get('/hold', async (req, res) => {
    gate.entered?.();
    await gate.wait;
    req.session.n = 999;
    res.json({ ok: true });
  });
  const server = createServer(app);
  const url = await listen(server);
  return { url, server, bridge, gate };
}

async function call(url: string, cookie?: string): Promise<{ body: any; cookie?: string }> {
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  const set = res.headers.get('set-cookie');
  return { body: await res.json(), cookie: set ? set.split(';')[0] : undefined };
}

function sidOf(cookie: string): string {
  // express-session signs as s:<sid>.<sig>, URI-encoded
  const v = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return v.slice(2, v.lastIndexOf('.'));
}

const stores: Array<[string, () => Promise<{ store: SessionStore; dump: () => Promise<string>; done: () => Promise<void> }>]> = [
  [
    'sqlite',
    async () => {
      const store = new SqliteStore({ filename: join(dir, `${randomBytes(4).toString('hex')}.db`), sweepIntervalMs: 0 });
      return {
        store,
        dump: async () => JSON.stringify(store.database.prepare('SELECT * FROM sessionward_sessions').all()),
        done: () => store.close(),
      };
    },
  ],
  [
    'postgres',
    async () => {
      const table = `t_${randomBytes(4).toString('hex')}`;
      const store = new PostgresStore({ pool, schema, table });
      await store.migrate();
      return {
        store,
        dump: async () =>
          (await pool.query(`SELECT t::text AS l FROM ${quoteIdent(schema)}.${quoteIdent(table)} t`)).rows.map((r) => r.l).join('\n'),
        done: async () => undefined,
      };
    },
  ],
];

for (const [name, make] of stores) {
  describe(`express-session over ${name}`, () => {
    let h: Awaited<ReturnType<typeof make>>;
    let app: App;
    beforeAll(async () => {
      h = await make();
      app = await startApp(h.store, 60_000);
    });
    afterAll(async () => {
      await close(app.server);
      await h.done();
    });

    it('keeps data across requests, then destroys it', async () => {
      const first = await call(`${app.url}/inc`);
      expect(first.body).toEqual({ n: 1 });
      expect(first.cookie).toMatch(/^sid=s%3A/);
      expect((await call(`${app.url}/inc`, first.cookie)).body).toEqual({ n: 2 });
      expect((await call(`${app.url}/read`, first.cookie)).body.n).toBe(2);
      expect((await call(`${app.url}/destroy`, first.cookie)).body).toEqual({ ok: true });
      expect((await call(`${app.url}/read`, first.cookie)).body.n).toBeNull();
      expect(await h.store.get(ExpressSessionStore.idOf(sidOf(first.cookie!)), Date.now())).toBeNull();
    });

    it('SEC-21: the store holds the hash of the sid, never the sid', async () => {
      const { cookie } = await call(`${app.url}/inc`);
      const sid = sidOf(cookie!);
      const dump = await h.dump();
      expect(dump).toContain(ExpressSessionStore.idOf(sid));
      expect(dump).not.toContain(sid);
    });

    it('SEC-19: expires_at follows the cookie maxAge', async () => {
      const before = Date.now();
      const { cookie } = await call(`${app.url}/inc`);
      const after = Date.now();
      const r = (await h.store.get(ExpressSessionStore.idOf(sidOf(cookie!)), after))!;
      expect(r.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
      expect(r.expiresAt).toBeLessThanOrEqual(after + 60_000);
      expect(r.expiresAt).toBeLessThanOrEqual(r.absoluteExpiresAt);
    });

    it('SEC-15: regenerate on login drops the old id; the passport user feeds the per-user index', async () => {
      const user = `u-${randomBytes(4).toString('hex')}`;
      const anon = await call(`${app.url}/inc`);
      const login = await call(`${app.url}/login?user=${user}`, anon.cookie);
      expect(login.cookie).toBeDefined();
      expect(sidOf(login.cookie!)).not.toBe(sidOf(anon.cookie!));
      expect(await h.store.get(ExpressSessionStore.idOf(sidOf(anon.cookie!)), Date.now())).toBeNull();
      expect((await call(`${app.url}/read`, login.cookie)).body.n).toBe(100);
      const listed = await h.store.listByUser(user, Date.now());
      expect(listed.map((r) => r.id)).toEqual([ExpressSessionStore.idOf(sidOf(login.cookie!))]);
      // logging out everywhere ends the express-session too
      expect(await h.store.deleteByUser(user)).toBe(1);
      expect((await call(`${app.url}/read`, login.cookie)).body.n).toBeNull();
    });

    it('a request in flight never brings back a session destroyed meanwhile', async () => {
      const { cookie } = await call(`${app.url}/inc`);
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      app.gate.entered = entered;
      app.gate.wait = new Promise<void>((r) => (app.gate.release = r));
      const held = call(`${app.url}/hold`, cookie);
      await inside;
      await h.store.delete(ExpressSessionStore.idOf(sidOf(cookie!)));
      app.gate.release!();
      expect((await held).body).toEqual({ ok: true });
      expect(await h.store.get(ExpressSessionStore.idOf(sidOf(cookie!)), Date.now())).toBeNull();
      app.gate.wait = undefined;
      app.gate.entered = undefined;
    });

    it('all, length and clear work over an enumerable store', async () => {
      const { cookie } = await call(`${app.url}/inc`);
      const len = await new Promise<number>((res, rej) => app.bridge.length((e, n) => (e ? rej(e) : res(n!))));
      expect(len).toBeGreaterThanOrEqual(1);
      const all = await new Promise<any[]>((res, rej) => app.bridge.all((e, xs) => (e ? rej(e) : res(xs!))));
      expect(all.length).toBe(len);
      expect(all.some((s) => s.id === ExpressSessionStore.idOf(sidOf(cookie!)) && s.n === 1)).toBe(true);
      await new Promise<void>((res, rej) => app.bridge.clear((e) => (e ? rej(e) : res())));
      expect(await new Promise<number>((res) => app.bridge.length((_e, n) => res(n!)))).toBe(0);
    });

    it('load() rebuilds a Session with a Cookie', async () => {
      const { cookie } = await call(`${app.url}/inc`);
      const sess = await new Promise<any>((res, rej) => app.bridge.load(sidOf(cookie!), (e, s) => (e ? rej(e) : res(s))));
      expect(sess.n).toBe(1);
      expect(sess.id).toBe(sidOf(cookie!));
      expect(sess.cookie.expires).toBeInstanceOf(Date);
      expect(typeof sess.save).toBe('function');
    });
  });
}

describe('express-session bridge over a store without enumeration', () => {
  it('all/length/clear report a typed error; sessions still work', async () => {
    const app = await startApp(new MemoryStore());
    try {
      const first = await call(`${app.url}/inc`);
      expect(first.body).toEqual({ n: 1 });
      expect((await call(`${app.url}/inc`, first.cookie)).body).toEqual({ n: 2 });
      const err = await new Promise<any>((res) => app.bridge.length((e) => res(e)));
      expect(err).toMatchObject({ code: 'ERR_STORE' });
    } finally {
      await close(app.server);
    }
  });

  it('a browser-session cookie gets the 1-day default lifetime', async () => {
    const store = new MemoryStore();
    const app = await startApp(store);
    try {
      const before = Date.now();
      const { cookie } = await call(`${app.url}/inc`);
      const r = (await store.get(ExpressSessionStore.idOf(sidOf(cookie!)), Date.now()))!;
      expect(r.expiresAt).toBeGreaterThanOrEqual(before + 86_400_000);
      expect(r.expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000);
    } finally {
      await close(app.server);
    }
  });
});
