/**
 * SqliteStore on Node's built-in `node:sqlite` (Node >= 22.13): the same conformance suite as the
 * better-sqlite3 driver (test/sqlite-store.test.ts), the driver choice, and files shared between
 * the drivers. The node:sqlite half runs where the runtime has it: the suite's Node 24 run
 * (scripts/runtimes.sh); on Node 20 the fallback half runs.
 */
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { hasNodeSqlite, SqliteStore, type NodeSqliteDatabase } from '../src/stores/sqlite.js';
import { betterSqlite3Loads } from './helpers/stores.js';

const dir = mkdtempSync(join(tmpdir(), 'sessionward-node-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `s${n++}.db`);
const builtin = hasNodeSqlite();
const require = createRequire(import.meta.url);
const openBuiltin = (f: string): NodeSqliteDatabase =>
  new (require('node:sqlite') as { DatabaseSync: new (f: string) => NodeSqliteDatabase }).DatabaseSync(f);
const pragma = (s: SqliteStore, name: string): unknown =>
  Object.values((s.database as NodeSqliteDatabase).prepare(`PRAGMA ${name}`).get() as object)[0];

describe.runIf(builtin)('SqliteStore on node:sqlite', () => {
  testSessionStore('sqlite (node:sqlite)', () => {
    const store = new SqliteStore({ filename: file(), sweepIntervalMs: 0, driver: 'node:sqlite' });
    return { store, cleanup: () => store.close() };
  });

  it('new SqliteStore() picks node:sqlite, so nothing needs compiling', async () => {
    const store = new SqliteStore({ filename: file(), sweepIntervalMs: 0 });
    expect(store.driver).toBe('node:sqlite');
    await store.close();
  });

  it('opens the file in WAL mode with synchronous=NORMAL and a busy timeout', async () => {
    const store = new SqliteStore({ filename: file(), sweepIntervalMs: 0, busyTimeoutMs: 1234, driver: 'node:sqlite' });
    expect(pragma(store, 'journal_mode')).toBe('wal');
    expect(pragma(store, 'synchronous')).toBe(1);
    expect(pragma(store, 'busy_timeout')).toBe(1234);
    await store.close();
  });

  it('uses a DatabaseSync it is given and never closes it', async () => {
    const db = openBuiltin(':memory:');
    const store = new SqliteStore({ database: db, sweepIntervalMs: 0 });
    expect(store.driver).toBe('node:sqlite');
    const r = makeRecord(Date.now(), { userId: 'u1', data: { a: 1 } });
    expect(await store.create(r)).toBe(true);
    await store.close();
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessionward_sessions').get()).toEqual({ n: 1 });
    db.close();
  });

  // Needs both drivers in one Node: runs where better-sqlite3 is built for a Node that has node:sqlite.
  it.runIf(betterSqlite3Loads())('a file written by better-sqlite3 opens with node:sqlite and back, rows and schema intact', async () => {
    const f = file();
    const now = Date.now();
    const r = makeRecord(now, { userId: 'both', data: { from: 'better-sqlite3' } });
    const a = new SqliteStore({ filename: f, sweepIntervalMs: 0, driver: 'better-sqlite3' });
    await a.create(r);
    await a.close();
    const b = new SqliteStore({ filename: f, sweepIntervalMs: 0, driver: 'node:sqlite' });
    expect((await b.get(r.id, now))!.data).toEqual({ from: 'better-sqlite3' });
    expect(await b.update({ ...r, version: r.version + 1, data: { from: 'node:sqlite' } }, r.version, now)).toBe(true);
    await b.close();
    const c = new SqliteStore({ filename: f, sweepIntervalMs: 0, driver: 'better-sqlite3' });
    expect((await c.listByUser('both', now)).map((x) => x.data)).toEqual([{ from: 'node:sqlite' }]);
    await c.close();
  });

  it('maps a lock held past busy_timeout to StoreUnavailableError, and the migration rolls back cleanly', async () => {
    const f = file();
    const store = new SqliteStore({ filename: f, sweepIntervalMs: 0, busyTimeoutMs: 0, driver: 'node:sqlite' });
    const other = openBuiltin(f);
    other.exec('BEGIN IMMEDIATE');
    await expect(store.create(makeRecord(Date.now()))).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(() => new SqliteStore({ filename: f, sweepIntervalMs: 0, busyTimeoutMs: 0, driver: 'node:sqlite', table: 'second' }))
      .toThrow(expect.objectContaining({ code: 'ERR_STORE_UNAVAILABLE' }));
    other.exec('ROLLBACK');
    other.close();
    expect(await store.create(makeRecord(Date.now()))).toBe(true);
    const again = new SqliteStore({ filename: f, sweepIntervalMs: 0, driver: 'node:sqlite', table: 'second' });
    expect(await again.count(Date.now())).toBe(0);
    await again.close();
    await store.close();
  });

  it('a corrupt row is a StoreError, not a crash', async () => {
    const store = new SqliteStore({ filename: file(), sweepIntervalMs: 0, driver: 'node:sqlite' });
    const r = makeRecord(Date.now());
    await store.create(r);
    (store.database as NodeSqliteDatabase).prepare('UPDATE sessionward_sessions SET data = ? WHERE id = ?').run('{not json', r.id);
    await expect(store.get(r.id, Date.now())).rejects.toMatchObject({ code: 'ERR_STORE' });
    await store.close();
  });
});

describe.runIf(!builtin)('SqliteStore where the runtime has no node:sqlite', () => {
  it('new SqliteStore() falls back to better-sqlite3', async () => {
    const store = new SqliteStore({ filename: file(), sweepIntervalMs: 0 });
    expect(store.driver).toBe('better-sqlite3');
    await store.close();
  });

  it("driver: 'node:sqlite' is a ConfigError that says which Node it needs and what to use instead", () => {
    expect(() => new SqliteStore({ filename: file(), driver: 'node:sqlite' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/Node >= 22\.13.*npm i better-sqlite3@12/) }),
    );
  });
});
