/**
 * PostgreSQL store on `pg` (node-postgres), an optional peer dependency: you pass the Pool (or a
 * connected Client); this module never imports `pg` at run time.
 *
 * @example
 * import pg from 'pg'
 * import { PostgresStore } from 'sessionward/stores/postgres'
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * const store = new PostgresStore({ pool, schema: 'auth' })
 * await store.migrate()
 */
import { createHash } from 'node:crypto';
import type { ClientBase, Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { ConfigError, InvalidInputError, StoreError, StoreUnavailableError } from '../errors.js';
import type { DataPatch, PatchOptions, SessionRecord, SessionStore } from './types.js';
import { patchText } from '../lib/patch.js';
import { pgPatchParams, pgPatchSql } from './sql-patch.js';
import { insertParams } from '../lib/record.js';
import { COLUMNS, hasSqlState, mapPgError, quoteIdent, rowToRecord, toJsonb, type Row } from './postgres-codec.js';
import {
  POSTGRES_MIGRATIONS,
  POSTGRES_MIGRATIONS_TABLE,
  POSTGRES_SCHEMA_VERSION,
  migrationsTableSql,
} from './postgres-migrations.js';

export interface PostgresStoreOptions {
  /** A pg Pool (recommended). The store never ends it. */
  pool?: Pool;
  /** Or one connected pg Client (queries are serialised on it). The store never ends it. */
  client?: ClientBase;
  /** Schema of the session table. Default `public`. Created by `migrate()` if missing. */
  schema?: string;
  /** Table name. Default `sessionward_sessions`. */
  table?: string;
  /**
   * Upper bound (ms) on one store call: waiting for a pool connection plus running the query.
   * Past it the call rejects with `StoreUnavailableError` and the connection is discarded, so a
   * hung server or an exhausted pool never hangs a request. Default 5000.
   */
  statementTimeoutMs?: number;
}

export { quoteIdent, mapPgError, toJsonb } from './postgres-codec.js';

export {
  POSTGRES_MIGRATIONS,
  POSTGRES_SCHEMA_VERSION,
  renderPostgresScript,
  type PostgresMigration,
} from './postgres-migrations.js';

type Query = QueryConfig & { query_timeout?: number };

/**
 * A `SessionStore` in one PostgreSQL table: compare-and-set updates on `version`, bounded
 * cleanup batches, every call bounded by `statementTimeoutMs`.
 *
 * @example
 * const store = new PostgresStore({ pool, statementTimeoutMs: 2000 })
 * await store.migrate()                      // idempotent; safe from many instances at once
 * setInterval(() => store.cleanup(Date.now(), 1000), 60_000).unref()
 */
export class PostgresStore implements SessionStore {
  readonly name = 'postgres';
  private readonly pool: Pool | undefined;
  private readonly client: ClientBase | undefined;
  private readonly schemaName: string;
  private readonly tableName: string;
  private readonly schema: string;
  private readonly table: string;
  private readonly timeoutMs: number;
  private readonly lockKey: string;
  private readonly q: Record<string, string>;
  private readonly tag: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(options: PostgresStoreOptions) {
    if (!options || (!options.pool && !options.client)) {
      throw new ConfigError(
        'PostgresStore: `pool` is required: install the driver (`npm i pg`) and pass ' +
          '`new pg.Pool({ connectionString: process.env.DATABASE_URL })` (docs/postgres.md)',
      );
    }
    if (options.pool && options.client) throw new ConfigError('PostgresStore: pass one of `pool` or `client`, not both');
    this.pool = options.pool;
    this.client = options.client;
    this.schemaName = options.schema ?? 'public';
    this.tableName = options.table ?? 'sessionward_sessions';
    this.schema = quoteIdent(this.schemaName, 'schema');
    // Leave room for the index-name suffixes derived from it.
    if (Buffer.byteLength(this.tableName) > 40) throw new ConfigError('PostgresStore: table must be at most 40 bytes');
    this.table = `${this.schema}.${quoteIdent(this.tableName, 'table')}`;
    this.timeoutMs = options.statementTimeoutMs ?? 5000;
    if (!(this.timeoutMs > 0)) throw new ConfigError('PostgresStore: statementTimeoutMs must be > 0');
    const h = createHash('sha256').update(`${this.schemaName}\0${this.tableName}`).digest();
    this.lockKey = h.readBigInt64BE(0).toString();
    // Named statements are parsed once per connection; the name is unique per table.
    this.tag = `sw_${h.subarray(8, 14).toString('hex')}`;
    const t = this.table;
    this.q = {
      get: `SELECT ${COLUMNS} FROM ${t} WHERE id = $1 AND expires_at > $2`,
      create: `INSERT INTO ${t} AS s (${COLUMNS}) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
        ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, data = EXCLUDED.data, version = EXCLUDED.version,
          created_at = EXCLUDED.created_at, last_seen_at = EXCLUDED.last_seen_at, auth_time = EXCLUDED.auth_time,
          absolute_expires_at = EXCLUDED.absolute_expires_at, expires_at = EXCLUDED.expires_at,
          meta = EXCLUDED.meta, rotated_to = EXCLUDED.rotated_to
        WHERE s.expires_at <= $12`,
      update: `UPDATE ${t} SET user_id = $1, data = $2::jsonb, version = $3, last_seen_at = $4, auth_time = $5,
          absolute_expires_at = $6, expires_at = LEAST($7::bigint, $6::bigint), meta = $8::jsonb, rotated_to = $9
        WHERE id = $10 AND version = $11 AND expires_at > $12`,
      // SEC-19: capped at the absolute expiry; a dead row or a rotation tombstone is never extended.
      touch: `UPDATE ${t} SET last_seen_at = $1, expires_at = LEAST($2::bigint, absolute_expires_at)
        WHERE id = $3 AND expires_at > $4 AND rotated_to IS NULL`,
      delete: `DELETE FROM ${t} WHERE id = $1`,
      listByUser: `SELECT ${COLUMNS} FROM ${t} WHERE user_id = $1 AND expires_at > $2 AND rotated_to IS NULL`,
      deleteByUser: `WITH d AS (DELETE FROM ${t} WHERE user_id = $1 AND id IS DISTINCT FROM $2 RETURNING expires_at, rotated_to)
        SELECT count(*) FILTER (WHERE expires_at > $3 AND rotated_to IS NULL)::int AS n, count(*)::int AS total FROM d`,
      // SKIP LOCKED: two instances cleaning at once split the work instead of queueing on row locks.
      cleanup: `DELETE FROM ${t} WHERE id IN (
          SELECT id FROM ${t} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        AND expires_at <= $1`,
      all: `SELECT ${COLUMNS} FROM ${t} WHERE expires_at > $1 AND rotated_to IS NULL`,
      count: `SELECT count(*)::int AS n FROM ${t} WHERE expires_at > $1 AND rotated_to IS NULL`,
      clear: `DELETE FROM ${t}`,
    };
  }

  /**
   * Run one named statement within the time bound. A write runs inside
   * `BEGIN; SET LOCAL statement_timeout` so that when it times out the server cancels and rolls it
   * back: a call reported as failed is never applied later (a bare client-side timeout let a
   * blocked UPDATE commit after the caller had been told it failed).
   */
  private async exec<R extends QueryResultRow>(key: string, values: unknown[], write = false): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.timeoutMs;
    const config: Query = { name: `${this.tag}_${key}`, text: this.q[key]!, values };
    const run = async (c: ClientBase): Promise<QueryResult<R>> => {
      const left = Math.max(1, deadline - Date.now());
      if (!write) return c.query<R>({ ...config, query_timeout: left } as QueryConfig);
      // The client-side bound is a little longer so the server's own cancellation normally wins.
      const qt = left + 500;
      await c.query({ text: `BEGIN; SET LOCAL statement_timeout = ${Math.ceil(left)}`, query_timeout: qt } as QueryConfig);
      let res: QueryResult<R>;
      try {
        res = await c.query<R>({ ...config, query_timeout: qt } as QueryConfig);
      } catch (e) {
        // After a server-side error the connection is healthy and needs its transaction closed;
        // after a socket/timeout failure it is discarded instead.
        if (hasSqlState(e)) await c.query({ text: 'ROLLBACK', query_timeout: qt } as QueryConfig).catch(() => undefined);
        throw e;
      }
      const cm = await c.query({ text: 'COMMIT', query_timeout: qt } as QueryConfig);
      if (cm.command !== 'COMMIT') throw new StoreUnavailableError('session store write rolled back');
      return res;
    };
    if (this.client) return this.serial(() => run(this.client!).catch((e: unknown) => Promise.reject(mapPgError(e, this.table))));
    const c = await this.acquire(deadline);
    let failure: unknown;
    try {
      return await run(c);
    } catch (e) {
      failure = e;
      throw mapPgError(e, this.table);
    } finally {
      // A connection that timed out or broke may still carry a running query: discard it.
      c.release(failure !== undefined && !hasSqlState(failure) ? (failure as Error) : undefined);
    }
  }

  /** One call at a time on a single user-supplied Client (pg 9 drops implicit query queueing). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** A pool connection, or StoreUnavailableError once the deadline passes (pool exhausted, server down). */
  private acquire(deadline: number): Promise<PoolClient> {
    const pool = this.pool!;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new StoreUnavailableError('session store unavailable'));
      }, Math.max(1, deadline - Date.now()));
      pool.connect().then(
        (c) => {
          if (settled) return c.release();
          settled = true;
          clearTimeout(timer);
          resolve(c);
        },
        (e: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(mapPgError(e));
        },
      );
    });
  }

  /**
   * Create or upgrade the schema. Idempotent, versioned, in one transaction under an advisory
   * lock, so app instances starting together apply each migration exactly once. Refuses a table
   * written by a newer sessionward. Returns the schema version in place.
   *
   * @example
   * await store.migrate() // at start-up, before serving
   */
  async migrate(): Promise<number> {
    const run = async (c: ClientBase): Promise<number> => {
      await c.query('BEGIN');
      try {
        await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lockKey]);
        // CREATE SCHEMA checks the CREATE privilege even with IF NOT EXISTS: skip it when present.
        const ns = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schemaName]);
        if (ns.rowCount === 0) await c.query(`CREATE SCHEMA ${this.schema}`);
        const mt = `${this.schema}.${quoteIdent(POSTGRES_MIGRATIONS_TABLE)}`;
        await c.query(migrationsTableSql(mt));
        const cur = await c.query<{ version: number }>(`SELECT version FROM ${mt} WHERE table_name = $1`, [this.tableName]);
        const current = cur.rows[0]?.version ?? 0;
        if (current > POSTGRES_SCHEMA_VERSION) {
          throw new StoreError(
            `table ${this.tableName} has schema version ${current}, newer than this sessionward (${POSTGRES_SCHEMA_VERSION})`,
          );
        }
        for (const m of POSTGRES_MIGRATIONS) {
          if (m.version <= current) continue;
          await c.query(
            m.sql
              .replaceAll('{{table}}', this.table)
              .replaceAll('{{expires_idx}}', quoteIdent(`${this.tableName}_expires_at_idx`))
              .replaceAll('{{user_idx}}', quoteIdent(`${this.tableName}_user_id_idx`)),
          );
        }
        await c.query(
          `INSERT INTO ${mt} (table_name, version) VALUES ($1, $2)
           ON CONFLICT (table_name) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`,
          [this.tableName, POSTGRES_SCHEMA_VERSION],
        );
        await c.query('COMMIT');
        return POSTGRES_SCHEMA_VERSION;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw mapPgError(e);
      }
    };
    if (this.client) return this.serial(() => run(this.client!));
    let c: PoolClient;
    try {
      c = await this.pool!.connect();
    } catch (e) {
      throw mapPgError(e);
    }
    try {
      return await run(c);
    } finally {
      c.release();
    }
  }

  async get(id: string, now: number): Promise<SessionRecord | null> {
    const r = await this.exec<Row>('get', [id, now]);
    return r.rows[0] ? rowToRecord(r.rows[0]) : null;
  }

  async create(record: SessionRecord): Promise<boolean> {
    const r = record;
    const res = await this.exec('create', [...insertParams(r, toJsonb), Date.now()], true);
    return res.rowCount === 1;
  }

  async update(record: SessionRecord, expectedVersion: number, now: number): Promise<boolean> {
    if (record.version !== expectedVersion + 1) {
      throw new InvalidInputError('record.version must be expectedVersion + 1');
    }
    const r = record;
    const res = await this.exec('update', [
      r.userId,
      toJsonb(r.data),
      r.version,
      r.lastSeenAt,
      r.authTime,
      r.absoluteExpiresAt,
      r.expiresAt,
      toJsonb(r.meta ?? {}),
      r.rotatedTo ?? null,
      r.id,
      expectedVersion,
      now,
    ], true);
    return res.rowCount === 1;
  }

  /** Per-key data changes in one UPDATE on the jsonb object (see sql-patch.ts). */
  async patch(id: string, patch: DataPatch, opts: PatchOptions): Promise<SessionRecord | null> {
    const q = pgPatchParams(id, patchText(patch, opts), opts);
    if (!q) return null;
    // One named statement per count of expected keys (bounded by PG_MAX_EXPECT).
    const key = `patch${q.present}`;
    this.q[key] ??= pgPatchSql(this.table, COLUMNS, q.present);
    const row = (await this.exec<Row>(key, q.params, true)).rows[0];
    return row ? rowToRecord(row) : null;
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean> {
    return (await this.exec('touch', [lastSeenAt, expiresAt, id, now], true)).rowCount === 1;
  }

  async delete(id: string): Promise<void> {
    await this.exec('delete', [id], true);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    return (await this.exec<Row>('listByUser', [userId, now])).rows.map(rowToRecord);
  }

  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    // Expired rows and rotation pointers of the user go too; only live sessions are counted.
    // One DELETE sees the rows committed when it started. A rotation racing it inserts the
    // successor (after that snapshot), then turns the old row into a pointer — which this DELETE,
    // re-checking the updated row, still removes: the successor would outlive "log out
    // everywhere" (found by the lifecycle model test). Such a successor was committed before the
    // pointer was, so the next pass sees it; passes repeat until one finds nothing.
    let n = 0;
    for (let pass = 0; pass < 16; pass++) {
      const r = (await this.exec<{ n: number; total: number }>('deleteByUser', [userId, exceptId ?? null, Date.now()], true)).rows[0]!;
      n += r.n;
      if (r.total === 0) break;
    }
    return n;
  }

  /**
   * Delete at most `limit` expired rows (one batch); returns how many went. Loop until it returns
   * less than `limit` to empty a backlog; `sessionward cleanup --postgres` does exactly that.
   *
   * @example
   * setInterval(() => store.cleanup(Date.now(), 1000).catch(() => {}), 60_000).unref()
   */
  async cleanup(now: number, limit = 1000): Promise<number> {
    return (await this.exec('cleanup', [now, Math.max(1, Math.floor(limit))], true)).rowCount ?? 0;
  }

  /** Every live, non-tombstone record (admin views, the express-session bridge). */
  async all(now: number): Promise<SessionRecord[]> {
    return (await this.exec<Row>('all', [now])).rows.map(rowToRecord);
  }

  /** Number of live, non-tombstone records. */
  async count(now: number): Promise<number> {
    return (await this.exec<{ n: number }>('count', [now])).rows[0]!.n;
  }

  /** Delete every record in the table. */
  async clear(): Promise<void> {
    await this.exec('clear', [], true);
  }

  /** Nothing to release: the pool or client belongs to the caller. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
