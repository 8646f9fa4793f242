/**
 * The servers every HTTP scenario compares, so each store is measured with the same handler:
 * `bare` answers without sessions; `sessionward` runs node:http + the node adapter on a store.
 * Routes of the session server: POST /login (new signed-in session), /write (atomic increment),
 * /count (reads the counter), anything else is an authenticated read that touches no data.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { SessionManager } from '../../src/index.js';
import { nodeSessions, sendError } from '../../src/adapters/node.js';
import type { SessionStore } from '../../src/stores/types.js';
import { close, listen, measureHttp, sideBySide } from './http.js';
import type { BenchContext } from './types.js';

const BODY = JSON.stringify({ ok: true });
const SECRET = randomBytes(32).toString('base64url');

export function bareServer(): http.Server {
  return http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  });
}

export function sessionServer(store: SessionStore, log: (msg: string) => void = () => {}): http.Server {
  const manager = new SessionManager<{ n?: number }>({ store, secrets: [SECRET] });
  const sessions = nodeSessions(manager);
  let logged = 0;
  return http.createServer(async (req, res) => {
    try {
      const session = await sessions.load(req);
      if (req.url === '/login') await session.login('bench-user');
      else if (req.url === '/write') await session.update((d) => { d.n = (d.n ?? 0) + 1; });
      else if (session.isNew) res.statusCode = 401;
      if (req.url === '/count') res.setHeader('x-count', String(session.get('n') ?? 0));
      await sessions.commit(session, res);
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
    const r = await fetch(`${base}/count`, { headers: { cookie } });
    await r.arrayBuffer();
    return { sent, kept: Number(r.headers.get('x-count')), failed: codes.filter((c) => c !== 200).length, ms };
  } finally {
    agent.destroy();
    await close(server);
  }
}

function ratio(a: number | undefined, b: number | undefined): number {
  return Math.round(((a ?? 0) / (b ?? 1)) * 100) / 100;
}

/**
 * Rows `http-read-<name>` (and `http-write-<name>` unless `write: false`): bare node:http beside
 * node:http + sessionward on `store`, side by side. Reads replay one signed-in cookie; writes use
 * one session per connection, as many users would (contention has the lost-updates row).
 */
export async function httpRows(ctx: BenchContext, store: SessionStore, name: string, o: { write?: boolean } = {}): Promise<void> {
  const bare = bareServer();
  const sw = sessionServer(store, ctx.log);
  const bareUrl = await listen(bare);
  const swUrl = await listen(sw);
  try {
    const cookie = await loginCookie(swUrl);
    const load = { duration: ctx.duration, connections: ctx.connections };
    const read = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/read`, load),
      sessionward: () => measureHttp(`${swUrl}/read`, { ...load, headers: { cookie } }),
    });
    ctx.report({ scenario: `http-read-${name}`, subject: 'bare', opsPerSec: read.bare });
    ctx.report({ scenario: `http-read-${name}`, subject: 'sessionward', opsPerSec: read.sessionward, ratio: ratio(read.sessionward, read.bare) });
    if (o.write === false) return;
    const cookies = await Promise.all(Array.from({ length: ctx.connections }, () => loginCookie(swUrl)));
    const write = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/write`, load),
      sessionward: () => measureHttp(`${swUrl}/write`, { ...load, cookiePerConnection: cookies }),
    });
    ctx.report({ scenario: `http-write-${name}`, subject: 'bare', opsPerSec: write.bare });
    ctx.report({ scenario: `http-write-${name}`, subject: 'sessionward', opsPerSec: write.sessionward, ratio: ratio(write.sessionward, write.bare) });
  } finally {
    await close(bare);
    await close(sw);
  }
}
