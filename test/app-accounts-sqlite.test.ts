/**
 * The reference app's accounts on the package's SQLite layer (`sessionward/stores/sqlite`): the
 * driver `new SqliteStore()` picks (node:sqlite where the runtime has it, so `npm start` on a
 * current Node loads no native addon), each driver this runtime can load, and the generic handle
 * the app's other tables use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Accounts } from '../app/lib/accounts.js';
import { openStore } from '../app/lib/config.js';
import { hasNodeSqlite, openSqlite, type SqliteDriverName } from '../src/stores/sqlite.js';
import { betterSqlite3Loads } from './helpers/stores.js';

const PASSWORD = 'correct horse battery';
// A cheap cost (the app itself refuses one below 2^17): these tests are about storage, not hashing.
const LOG_N = 10;
const dirs: string[] = [];
const opened: Accounts[] = [];

function file(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-accounts-'));
  dirs.push(dir);
  return join(dir, 'accounts.db');
}

function accounts(filename: string, driver: SqliteDriverName | 'auto' = 'auto'): Accounts {
  const a = new Accounts(filename, Date.now, LOG_N, driver);
  opened.push(a);
  return a;
}

afterEach(() => {
  for (const a of opened.splice(0)) a.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const drivers: SqliteDriverName[] = [
  ...(hasNodeSqlite() ? (['node:sqlite'] as const) : []),
  ...(betterSqlite3Loads() ? (['better-sqlite3'] as const) : []),
];

describe('reference app accounts: SQLite driver', () => {
  it('open on the driver new SqliteStore() picks here: node:sqlite where the runtime has it, else better-sqlite3', () => {
    expect(accounts(file()).db.driver).toBe(hasNodeSqlite() ? 'node:sqlite' : 'better-sqlite3');
  });

  it("npm start's default store names its driver, the one the accounts open with", async () => {
    const f = file();
    const opened = await openStore({}, join(f, '..'), () => undefined);
    try {
      const driver = hasNodeSqlite() ? 'node:sqlite' : 'better-sqlite3';
      expect(opened.label).toBe(`SQLite on ${driver}`);
      expect(accounts(f).db.driver).toBe(driver);
    } finally {
      await opened.close();
    }
  });

  it('at least one driver loads on this runtime (else the app could not start)', () => {
    expect(drivers.length).toBeGreaterThan(0);
  });

  it.each(drivers)('%s: sign-up, a taken email, sign-in, one use per TOTP step, list and count', async (driver) => {
    const a = accounts(file(), driver);
    expect(a.db.driver).toBe(driver);
    const user = (await a.create('a@example.com', PASSWORD))!;
    expect(user).toMatchObject({ email: 'a@example.com', role: 'user', totpSecret: null, totpLastStep: -1 });
    // The insert's change count decides: a taken email is null and its row is untouched.
    expect(await a.create('a@example.com', 'another password here')).toBeNull();
    expect(a.byEmail('a@example.com')!.passwordHash).toBe(user.passwordHash);
    expect((await a.authenticate('a@example.com', PASSWORD))!.id).toBe(user.id);
    expect(await a.authenticate('a@example.com', 'wrong password')).toBeNull();
    expect(await a.authenticate('nobody@example.com', PASSWORD)).toBeNull();
    a.setTotp(user.id, 'JBSWY3DPEHPK3PXP');
    expect(a.useTotpStep(user.id, 100)).toBe(true);
    expect(a.useTotpStep(user.id, 100)).toBe(false);
    expect(a.useTotpStep(user.id, 99)).toBe(false);
    expect(a.byId(user.id)).toMatchObject({ totpSecret: 'JBSWY3DPEHPK3PXP', totpLastStep: 100 });
    a.setRole(user.id, 'admin');
    expect(a.list().map((u) => [u.email, u.role])).toEqual([['a@example.com', 'admin']]);
    expect(a.count()).toBe(1);
    a.delete(user.id);
    expect(a.count()).toBe(0);
  });

  it.each(drivers)('%s: the handle keeps other app tables beside users (exec, prepare -> run/get/all, immediate)', async (driver) => {
    const a = accounts(file(), driver);
    const user = (await a.create('h@example.com', PASSWORD))!;
    a.db.exec('CREATE TABLE IF NOT EXISTS history (user_id TEXT NOT NULL, at INTEGER NOT NULL, what TEXT NOT NULL)');
    const add = a.db.prepare('INSERT INTO history (user_id, at, what) VALUES (?, ?, ?)');
    expect(Number(add.run(user.id, 1, 'sign-in').changes)).toBe(1);
    a.db.immediate(() => {
      add.run(user.id, 2, 'password changed');
      add.run(user.id, 3, 'sign-out');
    });
    // A failing transaction leaves nothing behind.
    expect(() => a.db.immediate(() => {
      add.run(user.id, 4, 'lost');
      throw new Error('boom');
    })).toThrow('boom');
    const rows = a.db.prepare('SELECT at, what FROM history WHERE user_id = ? ORDER BY at').all(user.id);
    expect(rows.map((r) => ({ ...(r as object) }))).toEqual([
      { at: 1, what: 'sign-in' },
      { at: 2, what: 'password changed' },
      { at: 3, what: 'sign-out' },
    ]);
    expect({ ...(a.db.prepare('SELECT COUNT(*) AS n FROM history').get() as object) }).toEqual({ n: 3 });
  });

  // Needs both drivers in one Node: runs where better-sqlite3 is built for a Node that has node:sqlite.
  it.runIf(drivers.length === 2)('an accounts file written by better-sqlite3 signs in through node:sqlite', async () => {
    const f = file();
    const old = accounts(f, 'better-sqlite3');
    const user = (await old.create('both@example.com', PASSWORD))!;
    old.close();
    opened.splice(opened.indexOf(old), 1);
    expect((await accounts(f, 'node:sqlite').authenticate('both@example.com', PASSWORD))!.id).toBe(user.id);
  });
});

describe('openSqlite (sessionward/stores/sqlite): misuse is a ConfigError naming the caller', () => {
  it('an unknown driver name', () => {
    expect(() => openSqlite(':memory:', 'sqlite3' as SqliteDriverName, 'the app')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/^the app: unknown SQLite driver "sqlite3"/) }),
    );
  });

  it.runIf(!hasNodeSqlite())('node:sqlite where the runtime has none: the Node it needs, or npm i better-sqlite3@12', () => {
    expect(() => openSqlite(':memory:', 'node:sqlite', 'the app')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/^the app: driver 'node:sqlite' needs Node >= 22\.13.*npm i better-sqlite3@12/) }),
    );
  });
});
