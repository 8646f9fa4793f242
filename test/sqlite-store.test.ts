import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { SqliteStore, migrateSqlite, SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from '../src/stores/sqlite.js';
import { sha256Sync } from '../src/crypto/node.js';
import { randomBytes } from 'node:crypto';
import { ensureBetterSqlite3 } from './helpers/better-sqlite3.js';

// Pins the better-sqlite3 driver: its addon is built on demand where `npm install` left it unbuilt.
ensureBetterSqlite3();

const dir = mkdtempSync(join(tmpdir(), 'sessionward-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `s${n++}.db`);
// This file pins better-sqlite3 (where `auto` would pick node:sqlite); test/sqlite-node-store.test.ts runs the other driver.
const open = (o: SqliteStoreOptions): SqliteStore & { database: Database.Database } =>
  new SqliteStore({ driver: 'better-sqlite3', ...o }) as SqliteStore & { database: Database.Database };

testSessionStore('sqlite', () => {
  const store = open({ filename: file(), sweepIntervalMs: 0 });
  return { store, cleanup: () => store.close() };
});

describe('SqliteStore', () => {
  it('opens the file in WAL mode with synchronous=NORMAL and a busy timeout', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0, busyTimeoutMs: 1234 });
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(store.database.pragma('busy_timeout', { simple: true })).toBe(1234);
    await store.close();
  });

  it('creates the parent directory of the file when missing', async () => {
    const f = join(dir, 'nested', 'deeper', 'sessions.db');
    const store = open({ filename: f, sweepIntervalMs: 0 });
    expect(existsSync(f)).toBe(true);
    await store.close();
  });

  it('indexes expires_at and user_id', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0 });
    const idx = store.database
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessionward_sessions'")
      .all() as Array<{ name: string; sql: string }>;
    expect(idx.map((i) => i.name).sort()).toEqual(['sessionward_sessions_expires_at_idx', 'sessionward_sessions_user_id_idx']);
    const plan = store.database
      .prepare('EXPLAIN QUERY PLAN SELECT id FROM sessionward_sessions WHERE expires_at <= ? LIMIT 10')
      .all(1) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).toContain('sessionward_sessions_expires_at_idx');
    await store.close();
  });

  it('upgrades a version-1 database in place and keeps its rows', async () => {
    const f = file();
    const db = new Database(f);
    expect(migrateSqlite(db, 'sessionward_sessions', 1)).toBe(1);
    const now = Date.now();
    const r = makeRecord(now, { userId: 'old-user', data: { kept: true } });
    db.prepare(
      `INSERT INTO sessionward_sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(r.id, r.userId, JSON.stringify(r.data), 1, now, now, null, r.absoluteExpiresAt, r.expiresAt, '{}', null);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessionward_sessions'").get()).toEqual({ n: 0 });
    db.close();

    const store = open({ filename: f, sweepIntervalMs: 0 });
    expect(store.database.prepare('SELECT version FROM sessionward_meta WHERE name = ?').get('sessionward_sessions')).toEqual({ version: SQLITE_SCHEMA_VERSION });
    expect((await store.get(r.id, now))!.data).toEqual({ kept: true });
    expect((await store.listByUser('old-user', now)).map((x) => x.id)).toEqual([r.id]);
    await store.close();
  });

  it('re-opening is idempotent and a newer schema version is refused', async () => {
    const f = file();
    const a = open({ filename: f, sweepIntervalMs: 0 });
    const r = makeRecord(Date.now());
    await a.create(r);
    await a.close();
    const b = open({ filename: f, sweepIntervalMs: 0 });
    expect(migrateSqlite(b.database)).toBe(SQLITE_SCHEMA_VERSION);
    expect(await b.get(r.id, Date.now())).not.toBeNull();
    b.database.prepare('UPDATE sessionward_meta SET version = ? WHERE name = ?').run(SQLITE_SCHEMA_VERSION + 1, 'sessionward_sessions');
    await b.close();
    expect(() => new SqliteStore({ filename: f, sweepIntervalMs: 0 })).toThrow(/newer than this sessionward/);
  });

  it('keeps two tables in one database apart', async () => {
    const db = new Database(':memory:');
    const a = open({ database: db, table: 'a_sessions', sweepIntervalMs: 0 });
    const b = open({ database: db, table: 'b sessions "quoted"', sweepIntervalMs: 0 });
    const r = makeRecord(Date.now());
    await a.create(r);
    expect(await b.get(r.id, Date.now())).toBeNull();
    expect(await a.get(r.id, Date.now())).not.toBeNull();
    await a.close();
    await b.close();
    // the store never closes a database it was given
    expect(db.open).toBe(true);
    db.close();
  });

  it('table names that differ only in punctuation get their own indexes (tenant-a / tenant_a), so neither sweep is a full scan', async () => {
    const db = new Database(':memory:');
    const stores = ['tenant_a', 'tenant-a', 'tenant.a'].map((table) => new SqliteStore({ database: db, table, sweepIntervalMs: 0 }));
    for (const table of ['tenant_a', 'tenant-a', 'tenant.a']) {
      const led = db.prepare('SELECT c.name FROM pragma_index_list(?) AS l JOIN pragma_index_info(l.name) AS c WHERE c.seqno = 0').all(table) as Array<{ name: string }>;
      expect(led.map((c) => c.name).sort()).toEqual(['expires_at', 'id', 'user_id']);
      const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM "${table}" WHERE expires_at <= ? LIMIT 10`).all(1) as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX/);
    }
    for (const s of stores) await s.close();
    db.close();
  });

  it('a table name that differs from another sessionward table only in case is refused (SQLite names ignore case: one clear() would wipe both)', async () => {
    const db = new Database(':memory:');
    const upper = new SqliteStore({ database: db, table: 'Sessions', sweepIntervalMs: 0 });
    const r = makeRecord(Date.now());
    await upper.create(r);
    expect(() => new SqliteStore({ database: db, table: 'sessions', sweepIntervalMs: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/same SQLite table as "Sessions"/) }));
    expect(() => new SqliteStore({ database: db, table: 'SESSIONS', sweepIntervalMs: 0 })).toThrow(/ignore case/);
    expect(await upper.get(r.id, Date.now())).not.toBeNull();
    // The same name again is the same store's table, not a twin.
    const again = new SqliteStore({ database: db, table: 'Sessions', sweepIntervalMs: 0 });
    expect(await again.get(r.id, Date.now())).not.toBeNull();
    await upper.close();
    await again.close();
    db.close();
  });

  it('a table left without indexes by an older sessionward (its index names taken by a punctuation twin) gets them at the next open', async () => {
    const db = new Database(':memory:');
    // What the old prefix rule left behind: tenant_a owns the tenant_a_* names, tenant-a has no index.
    await new SqliteStore({ database: db, table: 'tenant_a', sweepIntervalMs: 0 }).close();
    migrateSqlite(db, 'tenant-a', 1);
    db.prepare("UPDATE sessionward_meta SET version = 2 WHERE name = 'tenant-a'").run();
    const count = () => (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tenant-a'").get() as { n: number }).n;
    expect(count()).toBe(0);
    await new SqliteStore({ database: db, table: 'tenant-a', sweepIntervalMs: 0 }).close();
    expect(count()).toBe(2);
    db.close();
  });

  it('createSchema: false opens an existing table only, and refuses a missing file, a missing table or an old schema without changing anything', async () => {
    const missing = join(dir, 'absent', 'x.db');
    expect(() => new SqliteStore({ filename: missing, createSchema: false })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(existsSync(join(dir, 'absent'))).toBe(false);
    const f = file();
    const db = new Database(f);
    migrateSqlite(db, 'old', 1);
    migrateSqlite(db, 'current');
    const objects = () => db.prepare('SELECT name FROM sqlite_master ORDER BY name').all();
    const was = objects();
    expect(() => new SqliteStore({ filename: f, table: 'typo', createSchema: false })).toThrow(/no session table "typo".*"current", "old"/);
    expect(() => new SqliteStore({ filename: f, table: 'old', createSchema: false })).toThrow(/schema version 1/);
    expect(objects()).toEqual(was);
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    const ok = new SqliteStore({ filename: f, table: 'current', createSchema: false, sweepIntervalMs: 0 });
    expect(await ok.cleanup(Date.now())).toBe(0);
    await ok.close();
    db.close();
  });

  it('one sweep removes at most its batch of 5000 expired rows and never a live one', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0, sweepBatchSize: 500 });
    const now = Date.now();
    const insert = store.database.prepare(
      'INSERT INTO sessionward_sessions VALUES (?, NULL, ?, 1, ?, ?, NULL, ?, ?, ?, NULL)',
    );
    store.database.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`dead-${i}`, '{}', now - 10_000, now - 10_000, now - 1, now - 1 - i, '{}');
    })();
    const live = makeRecord(now);
    await store.create(live);
    const count = (): number => (store.database.prepare('SELECT COUNT(*) AS n FROM sessionward_sessions').get() as { n: number }).n;
    expect(store.sweep(now)).toBe(500);
    expect(count()).toBe(5001 - 500);
    expect(await store.cleanup(now, 1200)).toBe(1200);
    expect(count()).toBe(5001 - 1700);
    let removed = 0;
    for (let k; (k = await store.cleanup(now, 1000)) > 0; ) removed += k;
    expect(removed).toBe(3300);
    expect(count()).toBe(1);
    expect(await store.get(live.id, now)).not.toBeNull();
    await store.close();
  });

  it('the background sweep runs on its own timer', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 20, sweepBatchSize: 10 });
    const now = Date.now();
    await store.create(makeRecord(now - 10_000, { expiresAt: now - 5 }));
    const count = (): number => (store.database.prepare('SELECT COUNT(*) AS n FROM sessionward_sessions').get() as { n: number }).n;
    expect(count()).toBe(1);
    await expect.poll(count, { timeout: 5000, interval: 20 }).toBe(0);
    await store.close();
  });

  it('create replaces an expired row with the same id but never a live one', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0 });
    const now = Date.now();
    const r = makeRecord(now - 100_000, { expiresAt: now - 1, data: { v: 'old' } });
    expect(await store.create(r)).toBe(true);
    expect(await store.create({ ...r, expiresAt: now + 60_000, data: { v: 'new' } })).toBe(true);
    expect((await store.get(r.id, now))!.data).toEqual({ v: 'new' });
    await store.close();
  });

  it('SEC-19: touch caps expires_at at the absolute expiry and refuses tombstones', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0 });
    const now = Date.now();
    const r = makeRecord(now, { absoluteExpiresAt: now + 5000, expiresAt: now + 1000 });
    await store.create(r);
    expect(await store.touch(r.id, now + 10, now + 60_000, now + 10)).toBe(true);
    expect((await store.get(r.id, now + 10))!.expiresAt).toBe(now + 5000);
    const next = makeRecord(now);
    await store.create(next);
    await store.update({ ...r, version: 2, rotatedTo: next.id, expiresAt: now + 100 }, 1, now);
    expect(await store.touch(r.id, now + 20, now + 60_000, now + 20)).toBe(false);
    expect((await store.get(r.id, now + 20))!.expiresAt).toBe(now + 100);
    await store.close();
  });

  it('SEC-21: the database file holds only the hash, never the raw token', async () => {
    const f = file();
    const store = open({ filename: f, sweepIntervalMs: 0 });
    const token = randomBytes(32).toString('base64url');
    await store.create(makeRecord(Date.now(), { id: sha256Sync(token), data: { x: 1 } }));
    const dump = JSON.stringify(store.database.prepare('SELECT * FROM sessionward_sessions').all());
    expect(dump).toContain(sha256Sync(token));
    expect(dump).not.toContain(token);
    await store.close();
  });

  it('enumerates, counts and clears live sessions', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0 });
    const now = Date.now();
    await store.create(makeRecord(now));
    await store.create(makeRecord(now));
    await store.create(makeRecord(now, { expiresAt: now - 1 }));
    expect(await store.count(now)).toBe(2);
    expect((await store.all(now)).length).toBe(2);
    await store.clear();
    expect(await store.count(now)).toBe(0);
    await store.close();
  });

  it('rejects calls after close with StoreUnavailableError', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0 });
    await store.close();
    await expect(store.get('x', Date.now())).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
  });

  it('maps a lock held past busy_timeout to StoreUnavailableError', async () => {
    const f = file();
    const store = open({ filename: f, sweepIntervalMs: 0, busyTimeoutMs: 0 });
    const other = new Database(f);
    other.exec('BEGIN IMMEDIATE');
    await expect(store.create(makeRecord(Date.now()))).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    other.exec('ROLLBACK');
    other.close();
    expect(await store.create(makeRecord(Date.now()))).toBe(true);
    await store.close();
  });

  it('a corrupt row is a StoreError, not a crash', async () => {
    const store = open({ filename: file(), sweepIntervalMs: 0 });
    const r = makeRecord(Date.now());
    await store.create(r);
    store.database.prepare('UPDATE sessionward_sessions SET data = ? WHERE id = ?').run('{not json', r.id);
    await expect(store.get(r.id, Date.now())).rejects.toMatchObject({ code: 'ERR_STORE' });
    await store.close();
  });
});
