/**
 * The SQLite store's schema: ordered migrations recorded per table in `sessionward_meta`, applied
 * in one IMMEDIATE transaction, and the read-only check for `createSchema: false`. The same on
 * both drivers (src/stores/sqlite-driver.ts).
 */
import { ConfigError, StoreError } from '../errors.js';
import { connect, type SqliteConnection, type SqliteDatabase } from './sqlite-driver.js';
import { ensureSqliteIndexes, quoteSqliteIdent as quoteIdent, refuseCaseTwin, sqliteIndexSql, validateSqliteTable as validateTable } from './sqlite-names.js';

/** One schema step. `up` receives the quoted table name and the table's exact name. */
export interface SqliteMigration {
  version: number;
  up: (table: string, name: string) => string;
}

/**
 * Ordered schema migrations. The applied version per table lives in `sessionward_meta`, so several
 * sessionward tables (or the application's own PRAGMA user_version) can share one database file.
 */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    up: (t) => `
      CREATE TABLE IF NOT EXISTS ${t} (
        id TEXT PRIMARY KEY NOT NULL,
        user_id TEXT,
        data TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        auth_time INTEGER,
        absolute_expires_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        meta TEXT NOT NULL,
        rotated_to TEXT
      ) WITHOUT ROWID;`,
  },
  {
    version: 2,
    // Indexes came in their own step so that a database created by version 1 shows the upgrade path.
    // Index names come from sqliteIndexPrefix: each table's own, whatever its punctuation.
    up: (_t, name) => sqliteIndexSql(name),
  },
];

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;

/**
 * Create or upgrade the session table to the newest schema, in one IMMEDIATE transaction so two
 * processes opening the same file at once apply each step exactly once. Idempotent.
 * Refuses a database written by a newer sessionward (no silent downgrade).
 *
 * @example
 * migrateSqlite(db, 'sessionward_sessions') // returns the schema version now in place
 */
export function migrateSqlite(db: SqliteDatabase, tableName = 'sessionward_sessions', target = SQLITE_SCHEMA_VERSION): number {
  return migrateConnection(connect(db), tableName, target);
}

export function migrateConnection(db: SqliteConnection, tableName: string, target = SQLITE_SCHEMA_VERSION): number {
  validateTable(tableName);
  const table = quoteIdent(tableName);
  return db.immediate(() => {
    db.exec('CREATE TABLE IF NOT EXISTS sessionward_meta (name TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL)');
    refuseCaseTwin(db, tableName);
    const row = db.prepare('SELECT version FROM sessionward_meta WHERE name = ?').get(tableName) as
      | { version: number }
      | undefined;
    const current = row?.version ?? 0;
    if (current > SQLITE_SCHEMA_VERSION) {
      throw new StoreError(
        `table ${tableName} has schema version ${current}, newer than this sessionward (${SQLITE_SCHEMA_VERSION})`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version > current && m.version <= target) db.exec(m.up(table, tableName));
    }
    const reached = Math.max(current, Math.min(target, SQLITE_SCHEMA_VERSION));
    if (reached >= 2) ensureSqliteIndexes(db, tableName);
    db.prepare(
      'INSERT INTO sessionward_meta (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version',
    ).run(tableName, reached);
    return reached;
  });
}

/**
 * For `createSchema: false`: the table must be a sessionward table at this schema version. Reads
 * only (a mistyped `--table` used to create a table, switch the file to WAL and report success).
 */
export function requireSqliteTable(db: SqliteConnection, tableName: string): void {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessionward_meta'").get();
  const tables = hasMeta ? (db.prepare('SELECT name, version FROM sessionward_meta ORDER BY name').all() as Array<{ name: string; version: number }>) : [];
  const mine = tables.find((t) => t.name === tableName);
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(tableName);
  if (!mine || !exists) {
    const known = tables.map((t) => JSON.stringify(t.name)).join(', ');
    throw new ConfigError(
      `SqliteStore: no session table ${JSON.stringify(tableName)} in this file (${known ? `its session tables: ${known}` : 'it holds no sessionward table'}); check the file and table name`,
    );
  }
  if (mine.version !== SQLITE_SCHEMA_VERSION) {
    throw new ConfigError(
      `SqliteStore: table ${JSON.stringify(tableName)} has schema version ${mine.version}, this sessionward uses ${SQLITE_SCHEMA_VERSION}; open it once with the application (which migrates it) first`,
    );
  }
}
