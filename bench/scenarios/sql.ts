/**
 * SQL stores under HTTP load.
 * - http-read-sqlite / http-write-sqlite: authenticated reads (a valid session cookie) and writes
 *   (`session.update`, one session per connection) on node:http, `bare` (no sessions) beside
 *   `sessionward` over SqliteStore, in interleaved rounds, with a `floor` server that does exactly
 *   one prepared SELECT by primary key (reads) or that SELECT and one UPDATE (writes) per request,
 *   on the same driver, journal mode and file: the least a server keeping its sessions in SQLite
 *   must do. A WAL read takes and drops a shared-memory read lock (two fcntl calls) per statement.
 * - contended-write-sqlite: 32 connections writing one session.
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
import { contendedRows, httpRows, lostUpdates } from '../lib/session-server.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import { openSqlite, type SqliteConnection } from '../../src/stores/sqlite-driver.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres.js';
import type { SessionStore } from '../../src/stores/types.js';

const SENT = 200;
const PG_URL = process.env.BENCH_PG_URL ?? `postgres://${process.env.PGUSER ?? 'postgres'}@127.0.0.1:5432/test`;

/** One row of about a session's size in its own table, set up as SqliteStore sets up its file. */
function floorDb(file: string): SqliteConnection {
  const db = openSqlite(file);
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS floor (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, data TEXT NOT NULL)');
  db.prepare('INSERT OR REPLACE INTO floor VALUES (?, ?, ?)').run('s'.repeat(43), Date.now() + 3_600_000, 'x'.repeat(160));
  return db;
}

function floorServer(db: SqliteConnection, write: boolean): http.Server {
  const body = JSON.stringify({ ok: true });
  const read = db.prepare('SELECT id, expires_at, data FROM floor WHERE id = ? AND expires_at > ?');
  const update = db.prepare('UPDATE floor SET data = ?, expires_at = ? WHERE id = ?');
  const id = 's'.repeat(43);
  return http.createServer((_req, res) => {
    const row = read.get(id, Date.now()) as { data: string } | undefined;
    if (write) update.run(row?.data ?? '', Date.now() + 3_600_000, id);
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
}

async function httpSqlite(ctx: BenchContext, dir: string): Promise<void> {
  const store = new SqliteStore({ filename: join(dir, 'http.db') });
  const floor = floorDb(join(dir, 'http.db'));
  try {
    await httpRows(ctx, store, 'sqlite', { floor: { read: () => floorServer(floor, false), write: () => floorServer(floor, true) } });
    await contendedRows(ctx, store, 'sqlite');
  } finally {
    floor.close();
    await store.close();
  }
}

async function lostUpdatesRow(ctx: BenchContext, scenario: string, store: SessionStore): Promise<void> {
  if (!ctx.wants(scenario)) return;
  const r = await lostUpdates(store, SENT);
  ctx.report({ scenario, subject: 'sessionward', ...r });
}

const scenario: Scenario = async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionward-bench-sql-'));
  try {
    await httpSqlite(ctx, dir);

    const sqlite = new SqliteStore({ filename: join(dir, 'lost.db') });
    try {
      await lostUpdatesRow(ctx, 'lost-updates-sqlite', sqlite);
    } finally {
      await sqlite.close();
    }

    if (!ctx.wants('lost-updates-postgres')) return;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 10 });
    const schema = `sw_bench_${randomBytes(6).toString('hex')}`;
    try {
      const store = new PostgresStore({ pool, schema });
      await store.migrate();
      await lostUpdatesRow(ctx, 'lost-updates-postgres', store);
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
