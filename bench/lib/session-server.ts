/**
 * The servers every HTTP scenario compares, so each store is measured with the same handler:
 * `bare` answers without sessions; `sessionward` runs node:http + the node adapter on a store.
 * Routes of the session server: POST /login (new signed-in session), /write (atomic increment),
 * /count (reads the counter), anything else is an authenticated read that touches no data.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { SessionManager, type SessionManagerOptions } from '../../src/index.js';
import { nodeSessions, sendError } from '../../src/adapters/node.js';
import type { SessionStore } from '../../src/stores/types.js';
import { close, compare, listen, measureHttp, runLoad, sampleOf } from './http.js';
import type { BenchContext } from './types.js';

const BODY = JSON.stringify({ ok: true });
const SECRET = randomBytes(32).toString('base64url');

export function bareServer(): http.Server {
  return http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  });
}

export function sessionServer(
  store: SessionStore,
  log: (msg: string) => void = () => {},
  onWrite: () => void = () => {},
  options: Partial<SessionManagerOptions> = {},
): http.Server {
  const manager = new SessionManager<{ n?: number }>({ store, secrets: [SECRET], ...options });
  const sessions = nodeSessions(manager);
  let logged = 0;
  return http.createServer(async (req, res) => {
    try {
      const session = await sessions.load(req);
      if (req.url === '/login') await session.login('bench-user');
      else if (req.url === '/write') {
        await session.update((d) => { d.n = (d.n ?? 0) + 1; });
        onWrite();
      } else if (req.url === '/key') {
        // One key per connection (its port), counting that connection's writes: one user's
        // parallel requests changing different parts of one session (cart, preferences, ...).
        const k = `p${req.socket.remotePort}` as 'n';
        session.set(k, (session.get(k) ?? 0) + 1);
      } else if (session.isNew) res.statusCode = 401;
      if (req.url === '/count') {
        res.setHeader('x-count', String(session.get('n') ?? 0));
        const d = session.data as Record<string, unknown>;
        res.setHeader('x-keys', String(Object.keys(d).filter((k) => /^p\d+$/.test(k)).reduce((t, k) => t + Number(d[k]), 0)));
      }
      await sessions.commit(session, res);
      // Counted once stored: a /key write happens at commit.
      if (req.url === '/key') onWrite();
      res.setHeader('content-type', 'application/json');
      res.end(session.isNew ? '{}' : BODY);
    } catch (e) {
      if (logged++ < 3) log(`request failed: ${(e as { code?: string }).code ?? String(e)}`);
      if (!sendError(res, e)) {
        res.statusCode = 500;
        res.end();
      }
    }
  });
}

/** Log in once and return the `name=value` pair to replay. */
export async function loginCookie(base: string): Promise<string> {
  const r = await fetch(`${base}/login`, { method: 'POST' });
  await r.arrayBuffer();
  const set = r.headers.getSetCookie()[0];
  if (r.status !== 200 || !set) throw new Error(`login failed: ${r.status}`);
  return set.split(';')[0]!;
}

/**
 * 200 (or `sent`) concurrent increments of one session, each on its own connection so they really
 * race; returns how many the session kept.
 */
export async function lostUpdates(store: SessionStore, sent = 200): Promise<{ sent: number; kept: number; failed: number; ms: number }> {
  const server = sessionServer(store);
  const base = await listen(server);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const post = (path: string, cookie: string): Promise<number> =>
    new Promise((resolve, reject) => {
      http
        .request(`${base}${path}`, { method: 'POST', agent, headers: { cookie } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject)
        .end();
    });
  try {
    const cookie = await loginCookie(base);
    const t0 = performance.now();
    const codes = await Promise.all(Array.from({ length: sent }, () => post('/write', cookie)));
    const ms = Math.round(performance.now() - t0);
    return { sent, kept: await counter(base, cookie), failed: codes.filter((c) => c !== 200).length, ms };
  } finally {
    agent.destroy();
    await close(server);
  }
}

/**
 * Rows `http-read-<name>` (and `http-write-<name>` unless `write: false`): bare node:http beside
 * node:http + sessionward on `store`, side by side. Reads replay one signed-in cookie; writes use
 * one session per connection, as many users would (contention has its own rows). `floor` servers
 * do the least any server on this store must do per request (e.g. exactly one Redis GET).
 */
export async function httpRows(
  ctx: BenchContext,
  store: SessionStore,
  name: string,
  o: { write?: boolean; floor?: { read?: () => http.Server; write?: () => http.Server } } = {},
): Promise<void> {
  const wantRead = ctx.wants(`http-read-${name}`);
  const wantWrite = o.write !== false && ctx.wants(`http-write-${name}`);
  if (!wantRead && !wantWrite) return;
  const servers: http.Server[] = [];
  const up = async (s: http.Server): Promise<string> => (servers.push(s), listen(s));
  try {
    const bareUrl = await up(bareServer());
    const swUrl = await up(sessionServer(store, ctx.log));
    const load = { duration: ctx.duration, connections: ctx.connections };
    if (wantRead) {
      const cookie = await loginCookie(swUrl);
      const floorUrl = o.floor?.read ? await up(o.floor.read()) : undefined;
      await compare(ctx, `http-read-${name}`, {
        bare: (duration) => measureHttp(`${bareUrl}/read`, { ...load, duration }),
        ...(floorUrl ? { floor: (duration: number) => measureHttp(`${floorUrl}/read`, { ...load, duration }) } : {}),
        sessionward: (duration) => measureHttp(`${swUrl}/read`, { ...load, duration, headers: { cookie } }),
      });
    }
    if (wantWrite) {
      const cookies = await Promise.all(Array.from({ length: ctx.connections }, () => loginCookie(swUrl)));
      const floorUrl = o.floor?.write ? await up(o.floor.write()) : undefined;
      await compare(ctx, `http-write-${name}`, {
        bare: (duration) => measureHttp(`${bareUrl}/write`, { ...load, duration }),
        ...(floorUrl ? { floor: (duration: number) => measureHttp(`${floorUrl}/write`, { ...load, duration }) } : {}),
        sessionward: (duration) => measureHttp(`${swUrl}/write`, { ...load, duration, cookiePerConnection: cookies }),
      });
    }
  } finally {
    for (const s of servers) await close(s);
  }
}

/** Connections of a contended-write scenario: one user's parallel requests, all on one session. */
export const CONTENDED = 32;

/**
 * Row `contended-write-<name>`: 32 connections incrementing one session's counter through
 * `session.update`, beside bare node:http at the same concurrency. `sent` counts the increments
 * the app made over every round (warm-up included; counted by the server, since the load
 * generator drops the answers in flight when a window closes), `kept` is the counter afterwards,
 * `lost` the difference.
 */
export async function contendedRows(ctx: BenchContext, store: SessionStore, name: string): Promise<void> {
  if (!ctx.wants(`contended-write-${name}`)) return;
  const bare = bareServer();
  let sent = 0;
  let failed = 0;
  const sw = sessionServer(store, ctx.log, () => void sent++);
  const bareUrl = await listen(bare);
  const swUrl = await listen(sw);
  try {
    const cookie = await loginCookie(swUrl);
    const load = { method: 'POST' as const, connections: CONTENDED };
    await compare(ctx, `contended-write-${name}`, {
      bare: (duration) => measureHttp(`${bareUrl}/write`, { ...load, duration }),
      sessionward: async (duration) => {
        const r = await runLoad(`${swUrl}/write`, { ...load, duration, headers: { cookie } });
        // A refusal under contention (a 503 when the retries outlast the store's deadline) is
        // part of the figure, not a broken run: counted, and only 2xx answers make throughput.
        failed += r.non2xx + r.errors;
        return sampleOf(r);
      },
    }, {
      extra: async (subject): Promise<Record<string, number>> => {
        if (subject !== 'sessionward') return {};
        // Requests the load generator gave up on can still be completing: count once the server
        // has made no increment for 300 ms, or a late write shows up in `sent` but not in `kept`.
        await settled(() => sent);
        const kept = await counter(swUrl, cookie);
        return { connections: CONTENDED, sent, kept, lost: sent - kept, failed };
      },
    });
  } finally {
    await close(bare);
    await close(sw);
  }
}

/** Resolves once `read()` has not changed for `quietMs` (at most `maxMs`). */
async function settled(read: () => number, quietMs = 300, maxMs = 5000): Promise<void> {
  const end = Date.now() + maxMs;
  let last = read();
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = read();
    if (now === last) return;
    last = now;
  }
}

/** The same store with `patch` hidden: the manager takes its compare-and-set path (the old way). */
function withoutPatch(store: SessionStore): SessionStore {
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'patch') return undefined;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Row `contended-keys-<name>`: 32 connections on one session, each setting its own data key with
 * a plain `session.set` and commit. `sessionward` commits through `store.patch` (one atomic step);
 * `sessionward-cas` runs the same server on the store with `patch` hidden, i.e. the
 * compare-and-set loop every commit took before. `sent` counts the writes the app made, `kept`
 * the sum of the per-connection counters afterwards.
 */
export async function contendedKeyRows(ctx: BenchContext, makeStore: () => SessionStore, name: string): Promise<void> {
  if (!ctx.wants(`contended-keys-${name}`)) return;
  const bare = bareServer();
  const count = { sent: { sessionward: 0, 'sessionward-cas': 0 }, kept: { sessionward: 0, 'sessionward-cas': 0 }, failed: { sessionward: 0, 'sessionward-cas': 0 } };
  const servers = {
    sessionward: sessionServer(makeStore(), ctx.log, () => void count.sent.sessionward++),
    'sessionward-cas': sessionServer(withoutPatch(makeStore()), ctx.log, () => void count.sent['sessionward-cas']++),
  };
  const bareUrl = await listen(bare);
  const urls = { sessionward: await listen(servers.sessionward), 'sessionward-cas': await listen(servers['sessionward-cas']) };
  try {
    const load = { method: 'POST' as const, connections: CONTENDED };
    // A fresh session per window (at most 32 keys, as a real session would hold), summed after it.
    const run = (k: 'sessionward' | 'sessionward-cas') => async (duration: number) => {
      const cookie = await loginCookie(urls[k]);
      const r = await runLoad(`${urls[k]}/key`, { ...load, duration, headers: { cookie } });
      count.failed[k] += r.non2xx + r.errors;
      // Requests still in flight when the window closed finish first.
      await new Promise((resolve) => setTimeout(resolve, 300));
      count.kept[k] += await keySum(urls[k], cookie);
      return sampleOf(r);
    };
    await compare(ctx, `contended-keys-${name}`, {
      bare: (duration) => measureHttp(`${bareUrl}/write`, { ...load, duration }),
      sessionward: run('sessionward'),
      'sessionward-cas': run('sessionward-cas'),
    }, {
      extra: (subject): Record<string, number> => {
        if (subject !== 'sessionward' && subject !== 'sessionward-cas') return {};
        const { sent, kept, failed } = { sent: count.sent[subject], kept: count.kept[subject], failed: count.failed[subject] };
        return { connections: CONTENDED, sent, kept, lost: sent - kept, failed };
      },
    });
  } finally {
    await close(bare);
    for (const srv of Object.values(servers)) await close(srv);
  }
}

async function keySum(base: string, cookie: string): Promise<number> {
  const r = await fetch(`${base}/count`, { headers: { cookie } });
  await r.arrayBuffer();
  return Number(r.headers.get('x-keys'));
}

async function counter(base: string, cookie: string): Promise<number> {
  const r = await fetch(`${base}/count`, { headers: { cookie } });
  await r.arrayBuffer();
  return Number(r.headers.get('x-count'));
}
