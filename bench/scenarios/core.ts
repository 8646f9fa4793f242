/**
 * Core rows: bare node:http vs node:http + sessionward on the MemoryStore, for an authenticated
 * read (valid session cookie, nothing changes) and an authenticated write (atomic update).
 */
import http from 'node:http';
import { SessionManager, MemoryStore } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { measureHttp, listen, close, sideBySide } from '../lib/http.js';
import type { Scenario } from '../lib/types.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const BODY = JSON.stringify({ ok: true });

function bareServer(): http.Server {
  return http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  });
}

function sessionServer(): http.Server {
  const manager = new SessionManager<{ n?: number }>({ store: new MemoryStore(), secrets: [SECRET] });
  const sessions = nodeSessions(manager);
  return http.createServer(async (req, res) => {
    try {
      const session = await sessions.load(req);
      if (req.url === '/login') await session.login('bench-user');
      else if (req.url === '/write') await session.update((d) => { d.n = (d.n ?? 0) + 1; });
      else if (session.isNew) res.statusCode = 401;
      await sessions.commit(session, res);
      if (req.url === '/count') res.setHeader('x-count', String(session.get('n') ?? 0));
      res.setHeader('content-type', 'application/json');
      res.end(session.isNew ? '{}' : BODY);
    } catch {
      res.statusCode = 500;
      res.end();
    }
  });
}

async function loginCookie(base: string): Promise<string> {
  const r = await fetch(`${base}/login`, { method: 'POST' });
  return r.headers.getSetCookie()[0]!.split(';')[0]!;
}

const scenario: Scenario = async (ctx) => {
  const bare = bareServer();
  const sw = sessionServer();
  const bareUrl = await listen(bare);
  const swUrl = await listen(sw);
  try {
    const cookie = await loginCookie(swUrl);
    const load = { duration: ctx.duration, connections: ctx.connections };
    const read = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/read`, load),
      sessionward: () => measureHttp(`${swUrl}/read`, { ...load, headers: { cookie } }),
    });
    ctx.report({ scenario: 'http-read-memory', subject: 'bare', opsPerSec: read.bare });
    ctx.report({ scenario: 'http-read-memory', subject: 'sessionward', opsPerSec: read.sessionward, ratio: round(read.sessionward! / read.bare!) });

    // Writes: one session per connection, as many users would be (not all contending for one).
    const cookies = await Promise.all(Array.from({ length: ctx.connections }, () => loginCookie(swUrl)));
    const write = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/write`, load),
      sessionward: () => measureHttp(`${swUrl}/write`, { ...load, cookiePerConnection: cookies }),
    });
    ctx.report({ scenario: 'http-write-memory', subject: 'bare', opsPerSec: write.bare });
    ctx.report({ scenario: 'http-write-memory', subject: 'sessionward', opsPerSec: write.sessionward, ratio: round(write.sessionward! / write.bare!) });

    // Lost updates: 200 concurrent increments of one session over real HTTP.
    const c2 = await loginCookie(swUrl);
    await Promise.all(Array.from({ length: 200 }, () => fetch(`${swUrl}/write`, { method: 'POST', headers: { cookie: c2 } }).then((r) => r.arrayBuffer())));
    ctx.report({ scenario: 'lost-updates-memory', subject: 'sessionward', sent: 200, kept: await countOf(swUrl, c2) });
  } finally {
    await close(bare);
    await close(sw);
  }
};

async function countOf(base: string, cookie: string): Promise<number> {
  const r = await fetch(`${base}/count`, { headers: { cookie } });
  return Number(r.headers.get('x-count'));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export default scenario;
