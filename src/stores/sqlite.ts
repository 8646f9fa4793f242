/**
 * Embedded SQLite store — the default store for a single-host app. One SQL layer on two drivers
 * (src/stores/sqlite-driver.ts): Node's built-in `node:sqlite` where the runtime has it (Node >= 22.13,
 * nothing to compile), else the optional peer dependency better-sqlite3, loaded only when the store
 * opens a file itself. A database file written by one driver opens with the other.
 *
 * @example
 * import { SqliteStore } from 'sessionward/stores/sqlite'
 * const store = new SqliteStore()                              // ./data/sessions.db
 * const store2 = new SqliteStore({ filename: '/var/lib/app/sessions.db' })
 * const store3 = new SqliteStore({ database: new DatabaseSync(':memory:') })   // or a better-sqlite3 Database
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, InvalidInputError, StoreError, StoreUnavailableError } from '../errors.js';
import type { DataPatch, PatchOptions, SessionMeta, SessionRecord, SessionStore } from './types.js';
import { patchText } from '../lib/patch.js';
import { sqlitePatch } from './sql-patch.js';
import { insertParams } from '../lib/record.js';
import { parseData, takeWrite } from '../lib/data-json.js';
import {
  connect, openSqlite, sqliteBusy,
  type SqliteConnection, type SqliteDatabase, type SqliteDriverName, type SqliteStatement as Statement,
} from './sqlite-driver.js';
import { quoteSqliteIdent as quoteIdent, validateSqliteTable as validateTable } from './sqlite-names.js';
import { migrateConnection, requireSqliteTable } from './sqlite-schema.js';

// The driver layer is public: an application keeps its own tables (users, history) in SQLite
// through the same two drivers, so it compiles nothing where the store compiles nothing.
export { connect as connectSqlite, hasNodeSqlite, openSqlite } from './sqlite-driver.js';
export type { NodeSqliteDatabase, SqliteConnection, SqliteDatabase, SqliteDriverName, SqliteStatement } from './sqlite-driver.js';
export { migrateSqlite, SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js';
export type { SqliteMigration } from './sqlite-schema.js';

export interface SqliteStoreOptions {
  /**
   * An open database: a `node:sqlite` `DatabaseSync` or a better-sqlite3 `Database`.
   * The store never closes a database it did not open.
   */
  database?: SqliteDatabase;
  /** Path of the database file, used when `database` is absent. Default `./data/sessions.db`. */
  filename?: string;
  /**
   * Driver for `filename`. Default `auto`: `node:sqlite` where the runtime has it, else better-sqlite3.
   */
  driver?: SqliteDriverName | 'auto';
  /** Table name. Default `sessionward_sessions`. */
  table?: string;
  /** How long a write waits for a lock held by another connection (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Period of the background sweep of expired rows (ms); 0 disables it. Default 60 000. */
  sweepIntervalMs?: number;
  /** Most rows one sweep deletes, so a sweep never stalls the event loop. Default 500. */
  sweepBatchSize?: number;
  /**
   * `false`: open an existing session table only (maintenance tools such as `sessionward
   * cleanup`). Never creates the file, a table or an index, never changes the journal mode; a
   * missing file or table, or one at another schema version, is a `ConfigError` that names the
   * sessionward tables the file does hold. Default `true` (create and migrate).
   */
  createSchema?: boolean;
}

const DEFAULT_FILENAME = './data/sessions.db';

interface Row {
  id: string;
  user_id: string | null;
  data: string;
  version: number;
  created_at: number;
  last_seen_at: number;
  auth_time: number | null;
  absolute_expires_at: number;
  expires_at: number;
  meta: string;
  rotated_to: string | null;
}

const COLUMNS =
  'id, user_id, data, version, created_at, last_seen_at, auth_time, absolute_expires_at, expires_at, meta, rotated_to';

// SQLITE_BUSY/LOCKED mean "another connection holds the lock past busy_timeout": try again later.
function mapError(e: unknown): Error {
  if (sqliteBusy(e)) {
    return new StoreUnavailableError('session store unavailable', { cause: e });
  }
  if (e instanceof StoreError || e instanceof StoreUnavailableError || e instanceof InvalidInputError || e instanceof ConfigError) return e;
  return new StoreError('sqlite store failed', { cause: e });
}

function rowToRecord(row: Row): SessionRecord {
  let data: Record<string, unknown>;
  let meta: SessionMeta;
  try {
    data = parseData(row.data);
    meta = JSON.parse(row.meta) as SessionMeta;
  } catch (cause) {
    throw new StoreError('corrupt session row', { cause });
  }
  return {
    id: row.id,
    userId: row.user_id,
    data,
    version: row.version,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    authTime: row.auth_time,
    absoluteExpiresAt: row.absolute_expires_at,
    expiresAt: row.expires_at,
    meta,
    rotatedTo: row.rotated_to,
  };
}

/**
 * A `SessionStore` in one SQLite table: WAL journal, prepared statements compiled once,
 * compare-and-set updates, and a bounded background sweep of expired rows.
 *
 * better-sqlite3 runs each statement synchronously; the methods stay async to fit the contract.
 *
 * @example
 * const store = new SqliteStore({ filename: 'sessions.db', sweepIntervalMs: 30_000 })
 * const manager = new SessionManager({ store, secrets: [process.env.SESSION_SECRET!] })
 * process.on('SIGTERM', () => store.close())
 */
export class SqliteStore implements SessionStore {
  readonly name = 'sqlite';
  /** The underlying database (for inspection and tests). */
  readonly database: SqliteDatabase;
  /** Which driver runs it: `node:sqlite` or `better-sqlite3`. */
  readonly driver: SqliteDriverName;
  private readonly ownsDatabase: boolean;
  private readonly table: string;
  private readonly sweepBatchSize: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly s: Record<
    'get' | 'create' | 'update' | 'updateSameUser' | 'touch' | 'delete' | 'listByUser' | 'deleteByUser' | 'sweep' | 'all' | 'count' | 'clear',
    Statement
  >;
  private closed = false;
  /** patch statements by shape (key counts); bounded, since shapes come from applications. */
  private readonly patches = new Map<string, Statement>();
  private readonly db: SqliteConnection;

  constructor(options: SqliteStoreOptions = {}) {
    const tableName = options.table ?? 'sessionward_sessions';
    validateTable(tableName);
    this.table = quoteIdent(tableName);
    this.sweepBatchSize = options.sweepBatchSize ?? 500;
    if (!Number.isInteger(this.sweepBatchSize) || this.sweepBatchSize < 1) {
      throw new ConfigError('SqliteStore: sweepBatchSize must be a positive integer');
    }
    const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    if (!(sweepIntervalMs >= 0)) throw new ConfigError('SqliteStore: sweepIntervalMs must be >= 0');

    let db: SqliteConnection;
    if (options.database) {
      db = connect(options.database);
      this.ownsDatabase = false;
    } else {
      const file = options.filename ?? DEFAULT_FILENAME;
      const create = options.createSchema !== false;
      if (create && file !== ':memory:' && !file.startsWith('file:')) mkdirSync(dirname(resolve(file)), { recursive: true });
      // Neither driver has a "must exist" mode in common: look first, so a mistyped path creates nothing.
      if (!create && (file === ':memory:' || file.startsWith('file:') || !existsSync(file))) {
        throw new ConfigError(`SqliteStore: no SQLite file ${file}`);
      }
      db = openSqlite(file, options.driver);
      this.ownsDatabase = true;
    }
    this.database = db.database;
    this.driver = db.driver;
    this.db = db;
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      if (options.createSchema === false) {
        requireSqliteTable(db, tableName);
      } else {
        // WAL lets readers run beside the writer; NORMAL is durable across app crashes (not power
        // loss of the last commits), the usual trade for a session table. (An in-memory database
        // answers 'memory' and stays so.)
        db.exec('PRAGMA journal_mode = WAL');
        db.exec('PRAGMA synchronous = NORMAL');
        migrateConnection(db, tableName);
      }
    } catch (e) {
      if (this.ownsDatabase) db.close();
      throw mapError(e);
    }

    const t = this.table;
    this.s = {
      get: db.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE id = ? AND expires_at > ?`),
      // An expired row with the same id may be replaced; a live one never is.
      create: db.prepare(
        `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data,
           version = excluded.version, created_at = excluded.created_at, last_seen_at = excluded.last_seen_at,
           auth_time = excluded.auth_time, absolute_expires_at = excluded.absolute_expires_at,
           expires_at = excluded.expires_at, meta = excluded.meta, rotated_to = excluded.rotated_to
         WHERE ${t}.expires_at <= ?`,
      ),
      update: db.prepare(
        `UPDATE ${t} SET user_id = ?, data = ?, version = ?, last_seen_at = ?, auth_time = ?,
           absolute_expires_at = ?, expires_at = MIN(?, ?), meta = ?, rotated_to = ?
         WHERE id = ? AND version = ? AND expires_at > ?`,
      ),
      // The same write for a row whose owner stays: SQLite rewrites the user_id index entry of
      // every row whose UPDATE names user_id, changed or not (a third of an update, measured).
      // Almost every update keeps its owner; a change of owner falls through to \`update\`.
      updateSameUser: db.prepare(
        `UPDATE ${t} SET data = ?, version = ?, last_seen_at = ?, auth_time = ?,
           absolute_expires_at = ?, expires_at = MIN(?, ?), meta = ?, rotated_to = ?
         WHERE id = ? AND version = ? AND expires_at > ? AND user_id IS ?`,
      ),
      // SEC-19: never past the absolute expiry, never on a dead row, never on a rotation tombstone
      // (its grace window is fixed when it is written, SEC-18).
      touch: db.prepare(
        `UPDATE ${t} SET last_seen_at = ?, expires_at = MIN(?, absolute_expires_at)
         WHERE id = ? AND expires_at > ? AND rotated_to IS NULL`,
      ),
      delete: db.prepare(`DELETE FROM ${t} WHERE id = ?`),
      listByUser: db.prepare(
        `SELECT ${COLUMNS} FROM ${t} WHERE user_id = ? AND expires_at > ? AND rotated_to IS NULL`,
      ),
      deleteByUser: db.prepare(`DELETE FROM ${t} WHERE user_id = ? AND id IS NOT ? RETURNING expires_at, rotated_to`),
      sweep: db.prepare(
        `DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      ),
      all: db.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE expires_at > ? AND rotated_to IS NULL`),
      count: db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE expires_at > ? AND rotated_to IS NULL`),
      clear: db.prepare(`DELETE FROM ${t}`),
    };

    if (sweepIntervalMs > 0) {
      this.timer = setInterval(() => {
        try {
          this.sweep(Date.now());
        } catch {
          // A busy database skips one sweep; the next one catches up.
        }
      }, sweepIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Async factory, for symmetry with stores that must connect first.
   *
   * @example
   * const store = await SqliteStore.open({ filename: 'sessions.db' })
   */
  static open(options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    try {
      return Promise.resolve(new SqliteStore(options));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private run<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('session store closed'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(mapError(e));
    }
  }

  get(id: string, now: number): Promise<SessionRecord | null> {
    return this.run(() => {
      const row = this.s.get.get(id, now) as Row | undefined;
      return row ? rowToRecord(row) : null;
    });
  }

  create(record: SessionRecord): Promise<boolean> {
    return this.run(() => Number(this.s.create.run(...insertParams(record), Date.now()).changes) === 1);
  }

  update(record: SessionRecord, expectedVersion: number, now: number): Promise<boolean> {
    if (record.version !== expectedVersion + 1) {
      return Promise.reject(new InvalidInputError('record.version must be expectedVersion + 1'));
    }
    return this.run(() => {
      const r = record;
      const data = takeWrite(r.data) ?? JSON.stringify(r.data);
      const meta = JSON.stringify(r.meta ?? {});
      const rotatedTo = r.rotatedTo ?? null;
      // Two statements, no transaction needed: each is a compare-and-set on the version, so a
      // writer that lands between them makes the second one fail, as it would have failed alone.
      const same = this.s.updateSameUser.run(
        data, r.version, r.lastSeenAt, r.authTime, r.absoluteExpiresAt, r.expiresAt, r.absoluteExpiresAt, meta, rotatedTo,
        r.id, expectedVersion, now, r.userId,
      );
      if (Number(same.changes) === 1) return true;
      return (
        Number(this.s.update.run(
          r.userId, data, r.version, r.lastSeenAt, r.authTime, r.absoluteExpiresAt, r.expiresAt, r.absoluteExpiresAt, meta, rotatedTo,
          r.id, expectedVersion, now,
        ).changes) === 1
      );
    });
  }

  /** Per-key data changes in one UPDATE … RETURNING (see sql-patch.ts). */
  patch(id: string, patch: DataPatch, opts: PatchOptions): Promise<SessionRecord | null> {
    return this.run(() => {
      const q = sqlitePatch(this.table, COLUMNS, id, patchText(patch, opts), opts);
      if (!q) return null;
      let st = this.patches.get(q.shape);
      if (!st) {
        if (this.patches.size >= 64) this.patches.clear();
        this.patches.set(q.shape, (st = this.db.prepare(q.sql)));
      }
      const row = st.get(...q.params) as Row | undefined;
      return row ? rowToRecord(row) : null;
    });
  }

  touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean> {
    return this.run(() => Number(this.s.touch.run(lastSeenAt, expiresAt, id, now).changes) === 1);
  }

  delete(id: string): Promise<void> {
    return this.run(() => {
      this.s.delete.run(id);
    });
  }

  listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    return this.run(() => (this.s.listByUser.all(userId, now) as Row[]).map(rowToRecord));
  }

  deleteByUser(userId: string, exceptId?: string): Promise<number> {
    return this.run(() => {
      // Expired rows and rotation pointers of the user go too, but only live sessions are counted.
      const now = Date.now();
      const gone = this.s.deleteByUser.all(userId, exceptId ?? null) as Array<{ expires_at: number; rotated_to: string | null }>;
      return gone.filter((g) => g.expires_at > now && g.rotated_to === null).length;
    });
  }

  /**
   * Delete at most `limit` expired rows (one bounded batch); returns how many went.
   * Call it in a loop until it returns less than `limit` to empty the backlog.
   *
   * @example
   * while ((await store.cleanup(Date.now(), 1000)) === 1000) {}
   */
  cleanup(now: number, limit = 1000): Promise<number> {
    return this.run(() => this.sweep(now, limit));
  }

  /** One synchronous sweep batch (what the background timer runs). */
  sweep(now: number = Date.now(), limit: number = this.sweepBatchSize): number {
    if (this.closed) return 0;
    const n = Math.max(1, Math.floor(limit));
    return Number(this.s.sweep.run(now, n).changes);
  }

  /** Every live, non-tombstone record (for admin views and the express-session bridge). */
  all(now: number): Promise<SessionRecord[]> {
    return this.run(() => (this.s.all.all(now) as Row[]).map(rowToRecord));
  }

  /** Number of live, non-tombstone records. */
  count(now: number): Promise<number> {
    return this.run(() => (this.s.count.get(now) as { n: number }).n);
  }

  /** Delete every record in the table. */
  clear(): Promise<void> {
    return this.run(() => {
      this.s.clear.run();
    });
  }

  /** Stop the sweep timer; closes the database only if the store opened it. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.ownsDatabase) this.database.close();
    return Promise.resolve();
  }
}
