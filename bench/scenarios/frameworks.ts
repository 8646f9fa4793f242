/**
 * Framework rows: the same Express 5 (or Fastify 5) app bare, with sessionward, and with the
 * incumbent session middleware, measured side by side (interleaved rounds, median).
 * - express-read-memory: express-bare | sessionward (MemoryStore) | express-session (MemoryStore)
 * - express-read-redis / express-write-redis: ... on Redis (sessionward RedisStore | connect-redis 9)
 * - fastify-read-redis: fastify-bare | sessionward | @fastify/session (+ connect-redis 9)
 * - lost-updates-express-redis: 200 concurrent increments of one session's counter
 * Redis is a redis-server this scenario starts on a free port and kills (never the shared 6379).
 * Target: sessionward >= 0.85 x express-bare on reads.
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
import { session as swSession } from '../../src/adapters/express.js';
import { fastifySessionward, sessionOf } from '../../src/adapters/fastify.js';
import { RedisStore } from '../../src/stores/redis.js';
import { startRedis } from '../../test/helpers/redis-server.js';
import { measureHttp, listen, close, sideBySide } from '../lib/http.js';
import type { BenchContext, Scenario } from '../lib/types.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
type Client = ReturnType<typeof createClient>;
type Subject = { url: string; cookie: string; pool?: string[]; close(): Promise<void> };
const POOL = 64;

/** Like measureHttp, but each request carries the next cookie of a pool (many users, little contention). */
async function measurePool(url: string, cookies: string[], method: 'GET' | 'POST', ctx: BenchContext): Promise<number> {
  let i = 0;
  // Untyped package: imported through a widened specifier so no ambient declaration is needed.
  const autocannon = ((await import('autocannon' as string)) as { default: (o: unknown) => Promise<any> }).default;
  const result = await autocannon({
    url,
    method,
    duration: ctx.duration,
    connections: ctx.connections,
    pipelining: 1,
    requests: [{ method, setupRequest: (req: any) => ({ ...req, headers: { ...(req.headers ?? {}), cookie: cookies[i++ % cookies.length] } }) }],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors during load`);
  return Math.round(result.requests.average);
}

async function seedPool(s: Subject, seedPath: string): Promise<Subject> {
  const pool: string[] = [];
  for (let k = 0; k < POOL; k++) {
    const r = await fetch(s.url + seedPath);
    const set = r.headers.getSetCookie()[0];
    pool.push(set ? set.split(';')[0]! : '');
  }
  return { ...s, pool };
}

function expressApp(mw: express.RequestHandler | null, write: boolean, atomic = false): express.Express {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (mw) app.use(mw);
  app.get('/seed', (req: any, res) => {
    req.session.n = 0;
    res.json({ ok: true });
  });
  app.get('/read', (req: any, res) => res.json({ n: req.session?.n ?? null }));
  app.post('/write', async (req: any, res) => {
    if (req.session) {
      if (atomic) await req.session.$update((d: any) => void (d.n = (d.n ?? 0) + 1));
      else req.session.n = (req.session.n ?? 0) + 1;
    }
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

function esMiddleware(store?: expressSession.Store): express.RequestHandler {
  return expressSession({ secret: SECRET, resave: false, saveUninitialized: false, ...(store ? { store } : {}) }) as express.RequestHandler;
}

async function rows(ctx: BenchContext, scenario: string, subjects: Record<string, Subject>, path: string, method: 'GET' | 'POST' = 'GET'): Promise<void> {
  const runs: Record<string, () => Promise<number>> = {};
  for (const [name, s] of Object.entries(subjects)) {
    runs[name] = () => s.pool
      ? measurePool(s.url + path, s.pool, method, ctx)
      : measureHttp(s.url + path, { method, duration: ctx.duration, connections: ctx.connections, headers: s.cookie ? { cookie: s.cookie } : {} });
  }
  const res = await sideBySide(runs);
  const bare = Object.entries(res).find(([k]) => k.endsWith('bare'))?.[1];
  for (const [subject, opsPerSec] of Object.entries(res)) {
    ctx.report({ scenario, subject, opsPerSec, ...(bare && !subject.endsWith('bare') ? { ratioToBare: Number((opsPerSec / bare).toFixed(3)) } : {}) });
  }
}

async function lostUpdates(ctx: BenchContext, client: Client, port: number): Promise<void> {
  const SENT = 200;
  const cases: Array<[string, () => express.Express]> = [
    ['sessionward ($update)', () => expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-lu1:' })) }), true, true)],
    ['sessionward (req.session.n++, onConflict error)', () => expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-lu2:' })) }), true)],
    ['sessionward (req.session.n++, last-write-wins)', () => expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: 'bf-lu3:' }), 'last-write-wins') }), true)],
    ['express-session', () => expressApp(esMiddleware(new ConnectRedis({ client, prefix: 'bf-lu4:' })), true)],
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
  void port;
}

const scenario: Scenario = async (ctx) => {
  // express-read-memory
  {
    const subjects = {
      'express-bare': await serve(http.createServer(expressApp(null, false)), '/read'),
      sessionward: await serve(http.createServer(expressApp(swSession({ manager: swManager(new MemoryStore()) }), false))),
      'express-session': await serve(http.createServer(expressApp(esMiddleware(), false))),
    };
    try {
      await rows(ctx, 'express-read-memory', subjects, '/read');
    } finally {
      for (const s of Object.values(subjects)) await s.close();
    }
  }

  const redis = await startRedis();
  const client: Client = createClient({ url: `redis://127.0.0.1:${redis.port}`, disableOfflineQueue: true });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for (const [scenario, write] of [['express-read-redis', false], ['express-write-redis', true]] as const) {
      const subjects: Record<string, Subject> = {
        'express-bare': await serve(http.createServer(expressApp(null, write)), '/read'),
        sessionward: await serve(http.createServer(expressApp(swSession({ manager: swManager(new RedisStore({ client, prefix: `bf-${scenario}:` })) }), write))),
        'express-session': await serve(http.createServer(expressApp(esMiddleware(new ConnectRedis({ client, prefix: `bfes-${scenario}:` })), write))),
      };
      // Writes: 64 users' sessions in rotation (hammering one session measures contention, see lost-updates).
      if (write) for (const k of ['sessionward', 'express-session']) subjects[k] = await seedPool(subjects[k]!, '/seed');
      try {
        await rows(ctx, scenario, subjects, write ? '/write' : '/read', write ? 'POST' : 'GET');
      } finally {
        for (const s of Object.values(subjects)) await s.close();
      }
    }

    // fastify-read-redis
    {
      const bare = Fastify();
      bare.get('/read', async () => ({ n: null }));
      const sw = Fastify();
      await sw.register(fastifySessionward, { manager: swManager(new RedisStore({ client, prefix: 'bf-fy:' })) });
      sw.get('/seed', async (req) => (sessionOf(req).set('n', 0), { ok: true }));
      sw.get('/read', async (req) => ({ n: sessionOf(req).get('n') ?? null }));
      const fs = Fastify();
      await fs.register(fastifyCookie);
      await fs.register(fastifySession, { secret: SECRET, store: new ConnectRedis({ client, prefix: 'bfes-fy:' }) as any, saveUninitialized: false, cookie: { secure: false } });
      fs.get('/seed', async (req: any) => (req.session.set('n', 0), { ok: true }));
      fs.get('/read', async (req: any) => ({ n: req.session.get('n') ?? null }));
      const start = async (app: ReturnType<typeof Fastify>, seed: string): Promise<Subject> => {
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        const r = await fetch(url + seed);
        const set = r.headers.getSetCookie()[0];
        return { url, cookie: set ? set.split(';')[0]! : '', close: () => app.close() };
      };
      const subjects = { 'fastify-bare': await start(bare, '/read'), sessionward: await start(sw, '/seed'), '@fastify/session': await start(fs, '/seed') };
      try {
        await rows(ctx, 'fastify-read-redis', subjects, '/read');
      } finally {
        for (const s of Object.values(subjects)) await s.close();
      }
    }

    await lostUpdates(ctx, client, redis.port);
  } finally {
    await client.quit().catch(() => undefined);
    await redis.stop();
  }
};

export default scenario;
