/**
 * SQL stores under HTTP load.
 * - http-read-sqlite: authenticated reads (a valid session cookie) on node:http, `bare` (no
 *   sessions) beside `sessionward` over SqliteStore, interleaved by `sideBySide`.
 * - lost-updates-sqlite / lost-updates-postgres: 200 concurrent requests each increment one
 *   session's counter through `session.update`; `kept` must equal `sent`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BenchContext, Scenario } from '../lib/types.js';
import { httpRows, lostUpdates } from '../lib/session-server.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres.js';
import type { SessionStore } from '../../src/stores/types.js';

const SENT = 200;
const PG_URL = process.env.BENCH_PG_URL ?? `postgres://${process.env.PGUSER ?? 'postgres'}@127.0.0.1:5432/test`;

async function httpReadSqlite(ctx: BenchContext, dir: string): Promise<void> {
  const store = new SqliteStore({ filename: join(dir, 'read.db') });
  try {
    await httpRows(ctx, store, 'sqlite', { write: false });
  } finally {
    await store.close();
  }
}

async function lostUpdatesRow(ctx: BenchContext, scenario: string, store: SessionStore): Promise<void> {
  const r = await lostUpdates(store, SENT);
  ctx.report({ scenario, subject: 'sessionward', ...r });
}

const scenario: Scenario = async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionward-bench-sql-'));
  try {
    await httpReadSqlite(ctx, dir);

    const sqlite = new SqliteStore({ filename: join(dir, 'lost.db') });
    try {
      await lostUpdatesRow(ctx, 'lost-updates-sqlite', sqlite);
    } finally {
      await sqlite.close();
    }

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
