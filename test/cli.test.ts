import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteStore } from '../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../src/stores/postgres.js';
import { makeRecord } from '../src/testing/conformance.js';
import { RedisStore } from '../src/stores/redis.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'src/cli/index.ts');
const dir = mkdtempSync(join(tmpdir(), 'sessionward-cli-'));
const PGURL = `postgres://${process.env.PGUSER ?? 'postgres'}@127.0.0.1:5432/test`;
const schema = `sw_cli_${randomBytes(6).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PGURL });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], viaTty = false): Promise<Run> {
  const node = [process.execPath, '--import', 'tsx', cli, ...args];
  // `script` gives the child a real terminal, to see the progress line.
  const [cmd, argv] = viaTty
    ? ['script', ['-qec', node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null']]
    : [node[0]!, node.slice(1)];
  return new Promise((resolve) => {
    execFile(cmd as string, argv as string[], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function seedSqlite(file: string, dead: number, live: number): void {
  const store = new SqliteStore({ filename: file, sweepIntervalMs: 0 });
  const now = Date.now();
  const ins = store.database.prepare('INSERT INTO sessionward_sessions VALUES (?, NULL, ?, 1, ?, ?, NULL, ?, ?, ?, NULL)');
  store.database.transaction(() => {
    for (let i = 0; i < dead; i++) ins.run(`dead-${i}`, '{}', now - 9000, now - 9000, now - 1, now - 1 - i, '{}');
    for (let i = 0; i < live; i++) ins.run(`live-${i}`, '{}', now, now, now + 3_600_000, now + 600_000, '{}');
  })();
  void store.close();
}

function countSqlite(file: string): number {
  const db = new Database(file, { readonly: true });
  const n = (db.prepare('SELECT COUNT(*) AS n FROM sessionward_sessions').get() as { n: number }).n;
  db.close();
  return n;
}

beforeAll(async () => {
  await new PostgresStore({ pool, schema }).migrate();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
});

describe('sessionward cleanup', () => {
  it('--sqlite removes every expired row in batches and prints one JSON summary', async () => {
    const file = join(dir, 'a.db');
    seedSqlite(file, 2500, 3);
    const r = await run(['cleanup', '--sqlite', file, '--batch', '1000', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!);
    expect(summary).toMatchObject({ store: 'sqlite', removed: 2500 });
    expect(Object.keys(summary).sort()).toEqual(['ms', 'removed', 'store']);
    expect(Number.isInteger(summary.ms)).toBe(true);
    expect(countSqlite(file)).toBe(3);
    // a second run finds nothing left
    const again = await run(['cleanup', '--sqlite', file, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ store: 'sqlite', removed: 0 });
  });

  it('--postgres removes expired rows of the chosen schema and keeps live ones', async () => {
    const store = new PostgresStore({ pool, schema });
    const now = Date.now();
    await pool.query(
      `INSERT INTO ${quoteIdent(schema)}.sessionward_sessions (id, data, version, created_at, last_seen_at, absolute_expires_at, expires_at)
       SELECT 'dead-' || g, '{}'::jsonb, 1, $1::bigint, $1::bigint, $2::bigint, $2::bigint - g FROM generate_series(1, 1500) g`,
      [now - 9000, now - 1],
    );
    const live = makeRecord(now);
    await store.create(live);
    const r = await run(['cleanup', '--postgres', PGURL, '--schema', schema, '--batch', '400', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ store: 'postgres', removed: 1500 });
    expect(await store.count(Date.now())).toBe(1);
    expect(await store.get(live.id, Date.now())).not.toBeNull();
  });

  it('prints a human line without --json, and no progress when stdout is not a terminal', async () => {
    const file = join(dir, 'b.db');
    seedSqlite(file, 10, 1);
    const r = await run(['cleanup', '--sqlite', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`removed 10 expired sessions from sqlite in ${/in (\d+) ms/.exec(r.stdout)![1]} ms\n`);
    expect(r.stdout).not.toContain('\r');
  });

  it('updates a progress line in place on a terminal', async () => {
    const file = join(dir, 'c.db');
    seedSqlite(file, 250, 0);
    const r = await run(['cleanup', '--sqlite', file, '--batch', '100'], true);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\rremoved 100 expired sessions...');
    expect(r.stdout).toContain('\rremoved 250 expired sessions...');
    expect(r.stdout).toMatch(/removed 250 expired sessions from sqlite in \d+ ms/);
  });

  it('exits 2 on usage errors', async () => {
    const file = join(dir, 'a.db');
    const cases = [
      ['cleanup'],
      ['cleanup', '--sqlite', file, '--postgres', PGURL],
      ['cleanup', '--sqlite', file, '--bogus'],
      ['cleanup', '--sqlite', file, '--batch', '0'],
      ['cleanup', '--sqlite', file, '--schema', 'x'],
      ['frobnicate'],
    ];
    const results = await Promise.all(cases.map((args) => run(args)));
    results.forEach((r, i) => {
      expect({ args: cases[i], code: r.code }).toEqual({ args: cases[i], code: 2 });
      expect(r.stderr).not.toBe('');
    });
    expect((await run(['--help'])).code).toBe(0);
  });

  it('exits 1 on store errors without creating anything', async () => {
    const missing = join(dir, 'nope', 'missing.db');
    const a = await run(['cleanup', '--sqlite', missing, '--json']);
    expect(a.code).toBe(1);
    expect(JSON.parse(a.stdout)).toMatchObject({ store: 'sqlite' });
    expect(existsSync(join(dir, 'nope'))).toBe(false);

    const b = await run(['cleanup', '--postgres', 'postgres://postgres@127.0.0.1:1/test', '--json']);
    expect(b.code).toBe(1);
    expect(JSON.parse(b.stdout).error).toContain('ECONNREFUSED');

    const c = await run(['cleanup', '--postgres', PGURL, '--schema', `${schema}_absent`]);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('does not exist');
  });

  it('--redis calls the Redis store cleanup when it has one, and says so when it has not', async () => {
    const prefix = `swcli-${randomBytes(4).toString('hex')}:`;
    const r = await run(['cleanup', '--redis', 'redis://127.0.0.1:6379', '--prefix', prefix, '--json']);
    if (typeof (RedisStore.prototype as { cleanup?: unknown }).cleanup === 'function') {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ store: 'redis', removed: 0 });
    } else {
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toContain('offers no cleanup');
    }
    const down = await run(['cleanup', '--redis', 'redis://127.0.0.1:1', '--json']);
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout).error).toContain('ECONNREFUSED');
  });
});
