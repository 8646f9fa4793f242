/**
 * @internal Table and index names of the SQLite store, the same for both of its drivers (it needs only
 * `prepare(sql).get/all` and `exec`, which better-sqlite3 and node:sqlite both have).
 *
 * SQLite compares identifiers without ASCII case (`Sessions` and `sessions` are one table, and one
 * store's `clear()` would wipe the other's sessions), and index names share one namespace per
 * database. So a table name must not differ from another sessionward table's only in case, and its
 * index names must be its own: a name with characters outside `[A-Za-z0-9_]` gets a hash of the
 * exact name in its index prefix (`tenant-a` and `tenant_a` used to derive the same index names,
 * and the second table silently got none).
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** What the helpers need of a connection: both better-sqlite3 and node:sqlite fit. */
export interface SqliteLike {
  prepare(sql: string): { get(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
  exec(sql: string): unknown;
}

const PLAIN = /^[A-Za-z0-9_]+$/;

export function quoteSqliteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Any text is quoted safely; the limits keep derived index names readable. */
export function validateSqliteTable(name: string, store = 'SqliteStore'): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 48 || name.includes('\0')) {
    throw new ConfigError(`${store}: table must be 1..48 characters without NUL`);
  }
}

/**
 * Prefix of the table's index names: the name itself when it is plain (so existing databases keep
 * their index names), else its characters folded to `_` plus 8 hex digits of SHA-256 of the exact name.
 */
export function sqliteIndexPrefix(table: string): string {
  if (PLAIN.test(table)) return table;
  return `${table.replace(/[^A-Za-z0-9_]/g, '_')}_${createHash('sha256').update(table).digest('hex').slice(0, 8)}`;
}

/**
 * Refuse a table name that SQLite would resolve to another sessionward table of this database
 * (the names differ only in ASCII case). Call after `sessionward_meta` exists, inside the
 * migration transaction.
 */
export function refuseCaseTwin(db: SqliteLike, table: string, store = 'SqliteStore'): void {
  const twin = db.prepare('SELECT name FROM sessionward_meta WHERE name = ? COLLATE NOCASE AND name <> ?').get(table, table) as
    | { name: string }
    | undefined;
  if (twin) {
    throw new ConfigError(
      `${store}: table ${JSON.stringify(table)} is the same SQLite table as ${JSON.stringify(twin.name)} (SQLite names ignore case); pick a name that differs in more than case`,
    );
  }
}

const INDEXES = [
  { column: 'expires_at', suffix: '_expires_at_idx', where: '' },
  { column: 'user_id', suffix: '_user_id_idx', where: ' WHERE user_id IS NOT NULL' },
] as const;

/** The DDL of the table's indexes under its own prefix (migration step 2). */
export function sqliteIndexSql(table: string): string {
  const t = quoteSqliteIdent(table);
  const p = sqliteIndexPrefix(table);
  return INDEXES.map((i) => `CREATE INDEX IF NOT EXISTS ${quoteSqliteIdent(p + i.suffix)} ON ${t} (${i.column})${i.where};`).join('\n');
}

/**
 * Make sure the table has an index led by each column it is searched by. A table created before
 * the prefix rule may have none (its index names were taken by a punctuation twin): it gets them
 * now. If the name it needs belongs to another table, refuse with the way out.
 */
export function ensureSqliteIndexes(db: SqliteLike, table: string, store = 'SqliteStore'): void {
  const p = sqliteIndexPrefix(table);
  for (const i of INDEXES) {
    const led = db
      .prepare('SELECT 1 FROM pragma_index_list(?) AS l JOIN pragma_index_info(l.name) AS c WHERE c.seqno = 0 AND c.name = ?')
      .get(table, i.column);
    if (led) continue;
    const name = p + i.suffix;
    const owner = db.prepare("SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ? COLLATE NOCASE").get(name) as
      | { tbl_name: string }
      | undefined;
    if (owner) {
      throw new ConfigError(
        `${store}: index ${JSON.stringify(name)} that table ${JSON.stringify(table)} needs belongs to table ${JSON.stringify(owner.tbl_name)} (created by an older sessionward); DROP INDEX it and open both stores again`,
      );
    }
    db.exec(`CREATE INDEX ${quoteSqliteIdent(name)} ON ${quoteSqliteIdent(table)} (${i.column})${i.where}`);
  }
}
