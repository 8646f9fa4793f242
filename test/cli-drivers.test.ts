/**
 * The CLI where the optional drivers are not installed, as in a project that installed sessionward
 * alone: the built package in a directory whose node_modules holds only its two dependencies. A
 * missing driver is an exit 1 whose message says what to `npm i` (was a bare "Cannot find package"
 * for `cleanup`); a SQLite file opens on node:sqlite where the runtime has it (was: better-sqlite3
 * required first), and a maintenance command never changes the file's schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { builtPackage } from './helpers/built-package.js';
import { ROOT } from './helpers/runtimes.js';
import { hasNodeSqlite, openSqlite, SqliteStore } from '../src/stores/sqlite.js';
import { makeRecord } from '../src/testing/conformance.js';
import { requireDriver, DriverMissingError } from '../src/cli/store-url.js';
import { ConfigError } from '../src/errors.js';

const exec = promisify(execFile);
let project: string;
let bin: string;

beforeAll(async () => {
  const built = await builtPackage();
  project = mkdtempSync(join(tmpdir(), 'sw-cli-drivers-'));
  const pkg = join(project, 'node_modules', 'sessionward');
  mkdirSync(pkg, { recursive: true });
  // A copy, not a link: Node resolves a linked package from its real path, where every driver is.
  cpSync(join(built, 'node_modules', 'sessionward'), pkg, { recursive: true });
  for (const dep of ['commander', 'structured-headers']) symlinkSync(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep));
  bin = join(pkg, 'dist', 'cli', 'index.js');
}, 180_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

async function sessionward(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [bin, ...args], { cwd: project, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('sessionward CLI without the optional drivers', () => {
  it('cleanup --postgres and --redis exit 1 naming npm i pg / npm i redis', async () => {
    const pgRun = await sessionward('cleanup', '--postgres', 'postgres://127.0.0.1:1/none');
    expect(pgRun.code).toBe(1);
    expect(pgRun.stderr).toContain('cleanup --postgres needs the optional package "pg", which is not installed: npm i pg');
    const redisRun = await sessionward('cleanup', '--redis', 'redis://127.0.0.1:1', '--json');
    expect(redisRun.code).toBe(1);
    expect(redisRun.stderr).toContain('npm i redis');
    expect(JSON.parse(redisRun.stdout)).toMatchObject({ store: 'redis', error: expect.stringContaining('npm i redis') });
  });

  it('sessions on a postgres:// or redis:// store exit 1 naming the package', async () => {
    expect((await sessionward('sessions', 'stats', '--store', 'postgres://127.0.0.1:1/none')).stderr).toContain('a postgres:// store needs the optional package "pg", which is not installed: npm i pg');
    expect((await sessionward('sessions', 'stats', '--store', 'redis://127.0.0.1:1')).stderr).toContain('npm i redis');
  });

  it('sessions on a SQLite file: node:sqlite where the runtime has it, else exit 1 naming npm i better-sqlite3@12', async () => {
    const file = join(project, 'sessions.db');
    const store = new SqliteStore({ filename: file, sweepIntervalMs: 0 });
    await store.create(makeRecord(Date.now(), { userId: 'u1' }));
    await store.close();
    const r = await sessionward('sessions', 'stats', '--store', `sqlite:${file}`, '--json');
    if (hasNodeSqlite()) {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ live: 1 });
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('npm i better-sqlite3@12');
    }
  });
});

describe('sessionward sessions on a SQLite file: an existing session table only', () => {
  it('a mistyped --table exits 1 naming the file\'s session tables and creates nothing (no table, no index, no WAL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-cli-sqlite-'));
    try {
      const file = join(dir, 'sessions.db');
      const store = new SqliteStore({ filename: file, sweepIntervalMs: 0 });
      await store.close();
      const snapshot = () => {
        const db = openSqlite(file);
        try {
          const objects = db.prepare("SELECT type, name FROM sqlite_master ORDER BY name").all().map((r) => ({ ...(r as object) }));
          const mode = { ...(db.prepare('PRAGMA journal_mode').get() as object) };
          return { objects, mode };
        } finally {
          db.close();
        }
      };
      // Back to a rollback journal, so a switch to WAL by the command would show.
      const db = openSqlite(file);
      db.exec('PRAGMA journal_mode = DELETE');
      db.close();
      const before = snapshot();
      const { cli } = await import('./helpers/cli-run.js');
      const r = await cli(['sessions', 'stats', '--store', `sqlite:${file}`, '--table', 'sessionward_sesions']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no session table "sessionward_sesions"');
      expect(r.stderr).toContain('"sessionward_sessions"');
      expect(snapshot()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('requireDriver', () => {
  it('a missing package is a ConfigError (ERR_CONFIG) that names it and the npm i command', async () => {
    const e = await requireDriver('sessionward-no-such-driver', () => import('sessionward-no-such-driver' as string), 'this command').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DriverMissingError);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toMatchObject({ code: 'ERR_CONFIG', message: 'this command needs the optional package "sessionward-no-such-driver", which is not installed: npm i sessionward-no-such-driver' });
  });

  it('a module missing inside an installed package keeps its own error (installing the package again would not help)', async () => {
    const inner = Object.assign(new Error("Cannot find module 'pg-native'"), { code: 'MODULE_NOT_FOUND' });
    await expect(requireDriver('pg', () => Promise.reject(inner))).rejects.toBe(inner);
  });
});
