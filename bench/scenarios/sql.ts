/**
 * SQL stores under HTTP load.
 * - http-read-sqlite / http-write-sqlite: authenticated reads (a valid session cookie) and writes
 *   (`session.update`, one session per connection) on node:http, `bare` (no sessions) beside
 *   `sessionward` over SqliteStore, in interleaved rounds.
 * - contended-write-sqlite: 32 connections writing one session.
 * - lost-updates-sqlite / lost-updates-postgres: 200 concurrent requests each increment one
 *   session's counter through `session.update`; `kept` must equal `sent`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BenchContext, Scenario } from '../lib/types.js';
import { contendedRows, httpRows, lostUpdates } from '../lib/session-server.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres.js';
import type { SessionStore } from '../../src/stores/types.js';

const SENT = 200;
const PG_URL = process.env.BENCH_PG_URL ?? `postgres://${process.env.PGUSER ?? 'postgres'}@127.0.0.1:5432/test`;

async function httpSqlite(ctx: BenchContext, dir: string): Promise<void> {
  const store = new SqliteStore({ filename: join(dir, 'http.db') });
  try {
    await httpRows(ctx, store, 'sqlite');
    await contendedRows(ctx, store, 'sqlite');
  } finally {
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
