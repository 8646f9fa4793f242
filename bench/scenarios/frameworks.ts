/**
 * Framework rows: the same Express 5 (or Fastify 5) app bare, with sessionward, and with the
 * incumbent session middleware, measured side by side (interleaved rounds, median).
 * - express-read-memory(-10keys): express-bare | sessionward (MemoryStore) | express-session
 *   (MemoryStore); the -10keys variant carries a session of ten keys instead of one
 * - express-read-redis: ... on Redis (sessionward RedisStore | connect-redis 9), beside a floor
 *   app doing exactly one Redis GET per request
 * - express-write-redis(-10keys): 64 users' sessions in rotation, one key changed per request
 * - express-contended-write-redis: 32 connections incrementing one session (sessionward
 *   `$update` | express-session `n++`), with the updates each kept (`lost` = 2xx answers the
 *   session does not show)
 * - fastify-read-redis / fastify-write-redis: fastify-bare | sessionward | @fastify/session
 * - lost-updates-express-redis: 200 concurrent increments of one session's counter
 * Redis is a redis-server this scenario starts on a free port and kills (never the shared 6379).
 */
import http from 'node:http';
import express from 'express';
import expressSession from 'express-session';
import { RedisStore as ConnectRedis } from 'connect-redis';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { createClient } from 'redis';
import { SessionManager, MemoryStore, type SessionStore } from '../../src/index.js';
import { session as swSession } from '../../src/adapters/express/index.js';
import { fastifySessionward, sessionOf } from '../../src/adapters/fastify.js';
import { RedisStore } from '../../src/stores/redis.js';
import { startRedis } from '../../test/helpers/redis-server.js';
import { CONTENDED } from '../lib/session-server.js';
import { measureHttp, listen, close, compare, runLoad, sampleOf, alsoCountRedis, type Measure } from '../lib/http.js';
import type { BenchContext, Scenario } from '../lib/types.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
type Client = ReturnType<typeof createClient>;
type Subject = { url: string; cookie: string; pool?: string[]; close(): Promise<void> };
const POOL = 64;

/** A session of ten keys, as an app with a signed-in user, a cart and preferences carries. */
const TEN_KEYS = {
  n: 0,
  user: { id: 'u-1842', name: 'Ada Lovelace', roles: ['admin', 'editor'] },
  csrfSecret: 'c'.repeat(43),
  theme: 'dark',
  locale: 'en-GB',
  cart: [{ sku: 'A-100', qty: 1 }, { sku: 'B-220', qty: 3 }, { sku: 'C-301', qty: 2 }],
  returnTo: '/account/orders?page=2',
  flags: { beta: true, tour: false, compact: true },
  lastSeen: 1_764_900_000_000,
  views: 17,
};

async function seedPool(s: Subject, seedPath: string): Promise<Subject> {
  const pool: string[] = [];
  for (let k = 0; k < POOL; k++) {
    const r = await fetch(s.url + seedPath);
    const set = r.headers.getSetCookie()[0];
    pool.push(set ? set.split(';')[0]! : '');
  }
  return { ...s, pool };
}

/**
 * `floorWork`: the store work a floor server does per request instead of sessions (one Redis GET on
 * /read, a GET and a SET on /write): the least any Express app keeping sessions in that store does.
 */
function expressApp(mw: express.RequestHandler | null, o: { atomic?: boolean; tenKeys?: boolean; floorWork?: () => Promise<unknown>; onWrite?: () => void } = {}): express.Express {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (mw) app.use(mw);
  app.get('/seed', (req: any, res) => {
    if (o.tenKeys) Object.assign(req.session, structuredClone(TEN_KEYS));
    else req.session.n = 0;
    res.json({ ok: true });
  });
  app.get('/read', async (req: any, res) => {
    if (o.floorWork) await o.floorWork();
    res.json({ n: req.session?.n ?? null, user: req.session?.user?.id ?? null });
  });
  app.post('/write', async (req: any, res) => {
    if (o.floorWork) await o.floorWork();
    if (req.session) {
      if (o.atomic) await req.session.$update((d: any) => void (d.n = (d.n ?? 0) + 1));
      else req.session.n = (req.session.n ?? 0) + 1;
    }
    // Counted when the app has made its change (a window that closes may cut off the answer,
    // never the change itself).
    o.onWrite?.();
    res.json({ ok: true });
  });
  app.get('/n', (req: any, res) => res.json({ n: req.session?.n ?? null }));
  return app;
}
async function serve(server: http.Server, seedPath = '/seed'): Promise<Subject> {
  const url = await listen(server);
  const r = await fetch(url + seedPath);
  const set = r.headers.getSetCookie()[0];
  return { url, cookie: set ? set.split(';')[0]! : '', close: () => close(server) };
}

function swManager(store: SessionStore, onConflict: 'error' | 'last-write-wins' = 'error'): SessionManager<any> {
  // touchAfter long: a read-only request writes nothing (steady state of a busy session).
  return new SessionManager<any>({ store, secrets: [SECRET], onConflict, touchAfter: 30 * 60_000, idleTimeout: 60 * 60_000 });
}

/** The floor's write: read the session-sized value and write it back, as a session write must. */
async function floorWrite(client: Client): Promise<void> {
  const v = await client.get('floor:s');
  await client.set('floor:s', v ?? '', { PX: 3_600_000 });
}

function esMiddleware(store?: expressSession.Store): express.RequestHandler {
  return expressSession({ secret: SECRET, resave: false, saveUninitialized: false, ...(store ? { store } : {}) }) as express.RequestHandler;
}

function measureOf(ctx: BenchContext, s: Subject, path: string, method: 'GET' | 'POST'): Measure {
  return (duration) => measureHttp(s.url + path, {
    method, duration, connections: ctx.connections,
    ...(s.pool ? { cookiePerRequest: s.pool } : { headers: s.cookie ? { cookie: s.cookie } : {} }),
  });
}

async function rows(ctx: BenchContext, scenario: string, make: () => Promise<Record<string, Subject>>, path: string, method: 'GET' | 'POST' = 'GET'): Promise<void> {
  if (!ctx.wants(scenario)) return;
  const subjects = await make();
  try {
    await compare(ctx, scenario, Object.fromEntries(Object.entries(subjects).map(([name, s]) => [name, measureOf(ctx, s, path, method)])));
  } finally {
    for (const s of Object.values(subjects)) await s.close();
  }
}

/**
 * 32 connections incrementing one session's counter. Each subject's row gets `sent` (increments
 * the app made, counted by the server over every round, warm-up included), `kept` (the counter
 * afterwards) and `lost` (the difference).
 */
async function contended(ctx: BenchContext, scenario: string, make: (count: (subject: string) => () => void) => Promise<Record<string, Subject>>): Promise<void> {
  if (!ctx.wants(scenario)) return;
  const sent: Record<string, number> = {};
  const failed: Record<string, number> = {};
  const subjects = await make((subject) => () => void (sent[subject] = (sent[subject] ?? 0) + 1));
  try {
    await compare(ctx, scenario, Object.fromEntries(Object.entries(subjects).map(([name, s]) => [name, async (duration: number) => {
      const r = await runLoad(s.url + '/write', { method: 'POST', duration, connections: CONTENDED, headers: s.cookie ? { cookie: s.cookie } : {} });
      // Refusals under contention are part of the figure: counted; throughput is 2xx only.
      failed[name] = (failed[name] ?? 0) + r.non2xx + r.errors;
      return sampleOf(r);
    }])), {
      extra: async (name): Promise<Record<string, number>> => {
        const s = subjects[name]!;
        if (!s.cookie) return { connections: CONTENDED };
        const kept = ((await (await fetch(s.url + '/n', { headers: { cookie: s.cookie } })).json()) as { n: number }).n;
        return { connections: CONTENDED, sent: sent[name] ?? 0, kept, lost: (sent[name] ?? 0) - kept, failed: failed[name] ?? 0 };
      },
    });
  } finally {
    for (const s of Object.values(subjects)) await s.close();
  }
}

async function lostUpdates(ctx: BenchContext, client: Client): Promise<void> {
  if (!ctx.wants('lost-updates-express-redis')) return;
  const SENT = 200;
  const cases: Array<[string, () => express.Express]> = [
    ['sessionward ($update)', () => expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-lu1:' })) }), { atomic: true })],
    ['sessionward (req.session.n++, onConflict error)', () => expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-lu2:' })) }))],
    ['sessionward (req.session.n++, last-write-wins)', () => expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-lu3:' }), 'last-write-wins') }))],
    ['express-session', () => expressApp(esMiddleware(new ConnectRedis({ client, prefix: 'bf-lu4:' })))],
  ];
  for (const [subject, make] of cases) {
    const s = await serve(http.createServer(make()));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    const u = new URL(s.url);
    const post = (): Promise<number> => new Promise((resolve) => {
      const req = http.request({ host: u.hostname, port: u.port, path: '/write', method: 'POST', agent, headers: { cookie: s.cookie } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    const statuses = await Promise.all(Array.from({ length: SENT }, post));
    const kept = ((await (await fetch(s.url + '/n', { headers: { cookie: s.cookie } })).json()) as { n: number }).n;
    ctx.report({ scenario: 'lost-updates-express-redis', subject, sent: SENT, kept, refused409: statuses.filter((x) => x === 409).length, ok2xx: statuses.filter((x) => x >= 200 && x < 300).length });
    agent.destroy();
    await s.close();
  }
}

async function fastifyRows(ctx: BenchContext, client: Client, write: boolean): Promise<void> {
  const scenario = write ? 'fastify-write-redis' : 'fastify-read-redis';
  await rows(ctx, scenario, async () => {
    const bare = Fastify();
    bare.get('/read', async () => ({ n: null }));
    bare.post('/write', async () => ({ ok: true }));
    const sw = Fastify();
    await sw.register(fastifySessionward, { manager: swManager(new RedisStore({ client, prefix: `bf-${scenario}:` })) });
    sw.get('/seed', async (req) => (sessionOf(req).set('n', 0), { ok: true }));
    sw.get('/read', async (req) => ({ n: sessionOf(req).get('n') ?? null }));
    sw.post('/write', async (req) => {
      const s = sessionOf(req);
      s.set('n', (s.get('n') ?? 0) + 1);
      return { ok: true };
    });
    const fs = Fastify();
    await fs.register(fastifyCookie);
    await fs.register(fastifySession, { secret: SECRET, store: new ConnectRedis({ client, prefix: `bfes-${scenario}:` }) as any, saveUninitialized: false, cookie: { secure: false } });
    fs.get('/seed', async (req: any) => (req.session.set('n', 0), { ok: true }));
    fs.get('/read', async (req: any) => ({ n: req.session.get('n') ?? null }));
    fs.post('/write', async (req: any) => (req.session.set('n', (req.session.get('n') ?? 0) + 1), { ok: true }));
    const start = async (app: ReturnType<typeof Fastify>, seed: string): Promise<Subject> => {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const r = await fetch(url + seed);
      const set = r.headers.getSetCookie()[0];
      return { url, cookie: set ? set.split(';')[0]! : '', close: () => app.close() };
    };
    // The floor: one Redis GET per read, a GET and a SET per write, no sessions.
    const floor = Fastify();
    floor.get('/read', async () => (await client.get('floor:s'), { n: null }));
    floor.post('/write', async () => (await floorWrite(client), { ok: true }));
    const subjects: Record<string, Subject> = {
      'fastify-bare': await start(bare, '/read'), sessionward: await start(sw, '/seed'), '@fastify/session': await start(fs, '/seed'), floor: await start(floor, '/read'),
    };
    if (write) for (const k of ['sessionward', '@fastify/session']) subjects[k] = await seedPool(subjects[k]!, '/seed');
    return subjects;
  }, write ? '/write' : '/read', write ? 'POST' : 'GET');
}

const scenario: Scenario = async (ctx) => {
  for (const tenKeys of [false, true]) {
    await rows(ctx, `express-read-memory${tenKeys ? '-10keys' : ''}`, async () => ({
      'express-bare': await serve(http.createServer(expressApp(null)), '/read'),
      sessionward: await serve(http.createServer(expressApp(swSession({ manager: swManager(new MemoryStore()) }), { tenKeys }))),
      'express-session': await serve(http.createServer(expressApp(esMiddleware(), { tenKeys }))),
    }), '/read');
  }

  const redis = await startRedis();
  const client: Client = createClient({ url: `redis://127.0.0.1:${redis.port}`, disableOfflineQueue: true });
  client.on('error', () => undefined);
  await client.connect();
  await client.set('floor:s', 'x'.repeat(160));
  const untrack = await alsoCountRedis(client);
  try {
    const pair = (prefix: string, tenKeys: boolean) => async (): Promise<Record<string, Subject>> => ({
      'express-bare': await serve(http.createServer(expressApp(null)), '/read'),
      sessionward: await serve(http.createServer(expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: `bf-${prefix}:` })) }), { tenKeys }))),
      'express-session': await serve(http.createServer(expressApp(esMiddleware(new ConnectRedis({ client, prefix: `bfes-${prefix}:` })), { tenKeys }))),
    });
    await rows(ctx, 'express-read-redis', async () => ({
      ...(await pair('read', false)()),
      floor: await serve(http.createServer(expressApp(null, { floorWork: () => client.get('floor:s') })), '/read'),
    }), '/read');
    for (const tenKeys of [false, true]) {
      const name = `express-write-redis${tenKeys ? '-10keys' : ''}`;
      // 64 users' sessions in rotation (hammering one session measures contention, see below).
      await rows(ctx, name, async () => {
        const subjects = await pair(name, tenKeys)();
        for (const k of ['sessionward', 'express-session']) subjects[k] = await seedPool(subjects[k]!, '/seed');
        subjects.floor = await serve(http.createServer(expressApp(null, { floorWork: () => floorWrite(client) })), '/read');
        return subjects;
      }, '/write', 'POST');
    }
    await contended(ctx, 'express-contended-write-redis', async (count) => ({
      'express-bare': await serve(http.createServer(expressApp(null)), '/read'),
      sessionward: await serve(http.createServer(expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-cw:' })) }), { atomic: true, onWrite: count('sessionward') }))),
      'express-session': await serve(http.createServer(expressApp(esMiddleware(new ConnectRedis({ client, prefix: 'bfes-cw:' })), { onWrite: count('express-session') }))),
    }));
    await fastifyRows(ctx, client, false);
    await fastifyRows(ctx, client, true);
    await lostUpdates(ctx, client);
  } finally {
    untrack();
    await client.quit().catch(() => undefined);
    await redis.stop();
  }
};

export default scenario;
