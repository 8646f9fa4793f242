/**
 * The legacy migration path on the current connect-redis, 11 (npm alias `connect-redis11`; it
 * needs Node >= 22, so this file runs in the Node 24 suite, scripts/runtimes.sh). The old data is
 * written by the REAL express-session 1.x + connect-redis 11 on a real Redis (127.0.0.1:6379,
 * unique prefix) and read by sessionward with the old secret, through a connect-redis 11 store
 * instance and through the plain redis-client form. test/express-migration.test.ts runs the whole
 * path on connect-redis 9 (Node 20 and up).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import express from 'express';
import expressSession from 'express-session';
import { createClient } from 'redis';
// Types only: the module itself is loaded where Node meets its engines field.
import type { RedisStore as ConnectRedis11 } from 'connect-redis11';
import { session, coreSession } from '../src/adapters/express/index.js';
import { SessionManager, MemoryStore } from '../src/index.js';
import { listen, close } from '../bench/lib/http.js';
import { SECRET } from './helpers/core.js';

const OLD_SECRET = 'keyboard cat';
// connect-redis 11's engines field: node >= 22.
const SUPPORTED = Number(process.versions.node.split('.')[0]) >= 22;
const prefix = `swtest-mig11-${randomBytes(6).toString('hex')}:`;
const client = createClient({ url: 'redis://127.0.0.1:6379' });
let legacyStore: ConnectRedis11;
const servers: Server[] = [];
let oldUrl: string;

async function serve(app: express.Express): Promise<string> {
  const s = createServer(app);
  servers.push(s);
  return listen(s);
}

async function oldCookie(path: string): Promise<{ cookie: string; id: string }> {
  const r = await fetch(oldUrl + path);
  const { id } = (await r.json()) as { id: string };
  return { cookie: r.headers.getSetCookie().find((x) => x.startsWith('connect.sid='))!.split(';')[0]!, id };
}

describe.runIf(SUPPORTED)('express-session + connect-redis 11 -> sessionward migration', () => {
  beforeAll(async () => {
    const { RedisStore } = await import('connect-redis11');
    await client.connect();
    legacyStore = new RedisStore({ client, prefix });
    const old = express();
    old.use(expressSession({ secret: [OLD_SECRET], store: legacyStore, resave: false, saveUninitialized: false }));
    old.get('/login/:user', (req: any, res) => {
      req.session.passport = { user: req.params.user };
      req.session.cart = ['sku-1', 'sku-2'];
      res.json({ id: req.sessionID });
    });
    oldUrl = await serve(old);
  });

  afterAll(async () => {
    for (const s of servers) await close(s);
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await client.del(keys);
    await client.quit();
  });

  it('a signed-in user written through a connect-redis 11 store is upgraded once: data and login kept, old entry deleted, old cookie cleared', async () => {
    const manager = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET], warn: () => undefined });
    const app = express();
    app.use(session({ manager, legacy: { secrets: [OLD_SECRET], store: legacyStore } }));
    app.get('/me', (req: any, res) => res.json({ user: coreSession(req)?.userId ?? null, cart: req.session.cart ?? null }));
    const url = await serve(app);

    const { cookie, id } = await oldCookie('/login/u-11');
    expect(await client.exists(prefix + id)).toBe(1);
    const r = await fetch(url + '/me', { headers: { cookie } });
    expect(await r.json()).toEqual({ user: 'u-11', cart: ['sku-1', 'sku-2'] });
    expect(r.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))).toMatch(/^connect\.sid=; Max-Age=0; Path=\//);
    expect(await client.exists(prefix + id)).toBe(0);
    expect(await manager.listUserSessions('u-11')).toHaveLength(1);
    // Accepted once: the old cookie replayed finds nothing.
    expect(await (await fetch(url + '/me', { headers: { cookie } })).json()).toEqual({ user: null, cart: null });
  });

  it('the redis-client form (prefix) reads what connect-redis 11 wrote', async () => {
    const manager = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET], warn: () => undefined });
    const app = express();
    app.use(session({ manager, legacy: { secrets: [OLD_SECRET], redis: { client, prefix } } }));
    app.get('/me', (req: any, res) => res.json({ user: coreSession(req)?.userId ?? null, cart: req.session.cart ?? null }));
    const url = await serve(app);

    const { cookie, id } = await oldCookie('/login/u-11b');
    expect(await (await fetch(url + '/me', { headers: { cookie } })).json()).toEqual({ user: 'u-11b', cart: ['sku-1', 'sku-2'] });
    expect(await client.exists(prefix + id)).toBe(0);
  });
});
