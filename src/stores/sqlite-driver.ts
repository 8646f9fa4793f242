/**
 * The two SQLite drivers behind one narrow connection, so the session store holds one SQL layer:
 * Node's built-in `node:sqlite` (Node >= 22.5 unflagged from 22.13; nothing to compile) and the
 * better-sqlite3 addon (any Node this package supports; compiled per Node major).
 *
 * Both run statements synchronously and take positional parameters; they differ in how pragmas,
 * transactions and errors are spelled, which is all this file translates.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigError } from '../errors.js';

/** `node:sqlite`'s `DatabaseSync`, as far as the store uses it (@types/node 20 has no types for it). */
export interface NodeSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
  readonly isOpen?: boolean;
}

export type SqliteDatabase = BetterSqlite3.Database | NodeSqliteDatabase;
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

export interface SqliteStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** What the store needs from a database, whichever driver opened it. */
export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  readonly database: SqliteDatabase;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  /** Run `fn` in a BEGIN IMMEDIATE transaction: the write lock is taken before anything is read. */
  immediate<T>(fn: () => T): T;
  close(): void;
}

type NodeSqliteModule = { DatabaseSync: new (file: string) => NodeSqliteDatabase };

const require = createRequire(import.meta.url);
let nodeSqlite: NodeSqliteModule | null | undefined;

/** `node:sqlite`, or null where this Node has none (before 22.5, or 22.5..22.12 without the flag). */
function loadNodeSqlite(): NodeSqliteModule | null {
  if (nodeSqlite === undefined) {
    try {
      nodeSqlite = require('node:sqlite') as NodeSqliteModule;
    } catch {
      nodeSqlite = null;
    }
  }
  return nodeSqlite;
}

/** True when this runtime has the built-in `node:sqlite`, which `new SqliteStore()` then prefers. */
export function hasNodeSqlite(): boolean {
  return loadNodeSqlite() !== null;
}

function loadBetterSqlite3(who: string): typeof BetterSqlite3 {
  try {
    return require('better-sqlite3') as typeof BetterSqlite3;
  } catch (cause) {
    throw new ConfigError(
      `${who} needs a SQLite driver: run it on Node >= 22.13 (built-in node:sqlite, nothing to install), ` +
        `or install the optional peer dependency: npm i better-sqlite3@12 (${String(cause)})`,
    );
  }
}

function isBetterSqlite3(db: SqliteDatabase): db is BetterSqlite3.Database {
  return typeof (db as Partial<BetterSqlite3.Database>).pragma === 'function';
}

function transactionally<T>(exec: (sql: string) => void, fn: () => T): T {
  exec('BEGIN IMMEDIATE');
  let result: T;
  try {
    result = fn();
  } catch (e) {
    exec('ROLLBACK');
    throw e;
  }
  try {
    exec('COMMIT');
  } catch (e) {
    exec('ROLLBACK');
    throw e;
  }
  return result;
}

/**
 * Wrap a database the caller opened (better-sqlite3 `Database` or `node:sqlite` `DatabaseSync`).
 *
 * @example
 * const db = connect(new DatabaseSync(':memory:'))
 */
export function connect(database: SqliteDatabase): SqliteConnection {
  const exec = (sql: string): void => void database.exec(sql);
  if (isBetterSqlite3(database)) {
    return {
      driver: 'better-sqlite3',
      database,
      exec,
      prepare: (sql) => database.prepare(sql) as unknown as SqliteStatement,
      immediate: (fn) => database.transaction(fn).immediate(),
      close: () => database.close(),
    };
  }
  return {
    driver: 'node:sqlite',
    database,
    exec,
    prepare: (sql) => database.prepare(sql),
    immediate: (fn) => transactionally(exec, fn),
    close: () => database.close(),
  };
}

/**
 * Open `file` with the chosen driver; `auto` takes `node:sqlite` where the runtime has it, so a
 * fresh install on a current Node compiles nothing, and better-sqlite3 elsewhere. The connection is
 * the same whichever driver runs: `exec`, `prepare` -> `run`/`get`/`all` with positional
 * parameters, `immediate` for a write transaction, `close`. Nothing is set up: pragmas such as
 * `busy_timeout` (better-sqlite3 defaults to 5000 ms, node:sqlite to 0) are the caller's.
 * `who` names the caller in a ConfigError ("SqliteStore", "the reference app's accounts").
 *
 * @example
 * import { openSqlite } from 'sessionward/stores/sqlite'
 * const db = openSqlite('data/app.db')
 * db.exec('PRAGMA busy_timeout = 5000')
 * db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
 * db.prepare('INSERT INTO notes (body) VALUES (?)').run('hello')
 * const rows = db.prepare('SELECT id, body FROM notes').all() as Array<{ id: number; body: string }>
 */
export function openSqlite(file: string, driver: SqliteDriverName | 'auto' = 'auto', who = 'SqliteStore'): SqliteConnection {
  // From JavaScript (or an environment variable) any string can arrive: never guess a driver.
  if (driver !== 'auto' && driver !== 'node:sqlite' && driver !== 'better-sqlite3') {
    throw new ConfigError(`${who}: unknown SQLite driver ${JSON.stringify(driver)}: use 'node:sqlite', 'better-sqlite3' or 'auto'`);
  }
  const builtin = driver === 'better-sqlite3' ? null : loadNodeSqlite();
  if (builtin) return connect(new builtin.DatabaseSync(file));
  if (driver === 'node:sqlite') {
    throw new ConfigError(
      `${who}: driver 'node:sqlite' needs Node >= 22.13 (this is ${globalThis.process?.version ?? 'not Node'}); ` +
        "use driver: 'better-sqlite3' (npm i better-sqlite3@12) or leave driver unset to pick what is there",
    );
  }
  return connect(new (loadBetterSqlite3(who))(file));
}

/** SQLite's primary result code of a driver error (better-sqlite3: `code` 'SQLITE_BUSY...'; node:sqlite: `errcode`). */
export function sqliteBusy(e: unknown): boolean {
  const err = e as { code?: unknown; errcode?: unknown } | null;
  if (typeof err?.code === 'string' && (err.code.startsWith('SQLITE_BUSY') || err.code.startsWith('SQLITE_LOCKED'))) return true;
  // SQLITE_BUSY = 5, SQLITE_LOCKED = 6; extended codes keep the primary code in the low byte.
  const primary = typeof err?.errcode === 'number' ? err.errcode & 0xff : -1;
  return primary === 5 || primary === 6;
}
