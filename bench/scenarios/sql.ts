/**
 * SQL stores under HTTP load.
 * - http-read-sqlite: authenticated reads (a valid session cookie) on node:http, `bare` (no
 *   sessions) beside `sessionward` over SqliteStore, interleaved by `sideBySide`.
 * - lost-updates-sqlite / lost-updates-postgres: 200 concurrent requests each increment one
 *   session's counter through `session.update`; `kept` must equal `sent`.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BenchContext, Scenario } from '../lib/types.js';
import { close, listen, measureHttp, sideBySide } from '../lib/http.js';
import { SessionManager } from '../../src/index.js';
import { nodeSessions, sendError } from '../../src/adapters/node.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres.js';
import type { SessionStore } from '../../src/stores/types.js';

const SECRET = randomBytes(32).toString('base64url');
const SENT = 200;
const PG_URL = process.env.BENCH_PG_URL ?? `postgres://${process.env.PGUSER ?? 'postgres'}@127.0.0.1:5432/test`;

function sessionServer(store: SessionStore): http.Server {
  const manager = new SessionManager<{ n?: number; user?: string }>({
    store,
    secrets: [SECRET],
    cookie: { insecureDevelopmentCookies: true },
    idleTimeout: 30 * 60_000,
    absoluteTimeout: 8 * 3_600_000,
  });
  const sessions = nodeSessions(manager);
  return http.createServer(async (req, res) => {
    try {
      const session = await sessions.load(req);
      if (req.url === '/login') {
        await session.login('bench-user');
        session.set('n', 0);
      } else if (req.url === '/inc') {
        await session.update((d) => {
          d.n = (d.n ?? 0) + 1;
        });
      }
      const n = session.get('n');
      await sessions.commit(session, res);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ n: n ?? null }));
    } catch (e) {
      if (!sendError(res, e)) {
        res.statusCode = 500;
        res.end();
      }
    }
  });
}

/** Log in once and return the `name=value` pair to replay. */
async function loginCookie(base: string): Promise<string> {
  const res = await fetch(`${base}/login`);
  const set = res.headers.getSetCookie();
  await res.arrayBuffer();
  if (res.status !== 200 || set.length === 0) throw new Error(`login failed: ${res.status}`);
  return set.map((c) => c.split(';')[0]).join('; ');
}

async function httpReadSqlite(ctx: BenchContext, dir: string): Promise<void> {
  const store = new SqliteStore({ filename: join(dir, 'read.db') });
  const bare = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ n: null }));
  });
  const sw = sessionServer(store);
  const bareUrl = await listen(bare);
  const swUrl = await listen(sw);
  try {
    const cookie = await loginCookie(swUrl);
    const load = { duration: ctx.duration, connections: ctx.connections };
    const res = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/read`, load),
      sessionward: () => measureHttp(`${swUrl}/read`, { ...load, headers: { cookie } }),
    });
    for (const [subject, opsPerSec] of Object.entries(res)) ctx.report({ scenario: 'http-read-sqlite', subject, opsPerSec });
  } finally {
    await close(bare);
    await close(sw);
    await store.close();
  }
}

async function lostUpdates(ctx: BenchContext, scenario: string, store: SessionStore): Promise<void> {
  const server = sessionServer(store);
  const base = await listen(server);
  // A fresh connection per request (no keep-alive pool limit), so all 200 really race.
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const get = (path: string, cookie: string): Promise<number> =>
    new Promise((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent, headers: { cookie } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
  try {
    const cookie = await loginCookie(base);
    const t0 = performance.now();
    const codes = await Promise.all(Array.from({ length: SENT }, () => get('/inc', cookie)));
    const ms = Math.round(performance.now() - t0);
    const read = await fetch(`${base}/read`, { headers: { cookie } });
    const kept = ((await read.json()) as { n: number | null }).n ?? 0;
    const failed = codes.filter((c) => c !== 200).length;
    ctx.report({ scenario, subject: 'sessionward', sent: SENT, kept, failed, ms });
  } finally {
    agent.destroy();
    await close(server);
  }
}

const scenario: Scenario = async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionward-bench-sql-'));
  try {
    await httpReadSqlite(ctx, dir);

    const sqlite = new SqliteStore({ filename: join(dir, 'lost.db') });
    try {
      await lostUpdates(ctx, 'lost-updates-sqlite', sqlite);
    } finally {
      await sqlite.close();
    }

    const pool = new pg.Pool({ connectionString: PG_URL, max: 10 });
    const schema = `sw_bench_${randomBytes(6).toString('hex')}`;
    try {
      const store = new PostgresStore({ pool, schema });
      await store.migrate();
      await lostUpdates(ctx, 'lost-updates-postgres', store);
    } catch (e) {
      ctx.log(`lost-updates-postgres skipped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
      await pool.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

export default scenario;
