import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteStore, migrateSqlite } from '../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../src/stores/postgres.js';
import { makeRecord } from '../src/testing/conformance.js';
import { RedisStore } from '../src/stores/redis.js';
import type { SessionRecord } from '../src/stores/types.js';
import { createClient, createCluster } from 'redis';
import { cli as redisCli, startCluster } from './helpers/redis-server.js';
import { ensureBetterSqlite3 } from './helpers/better-sqlite3.js';

// Pins the better-sqlite3 driver: its addon is built on demand where `npm install` left it unbuilt.
ensureBetterSqlite3();

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

/** `clockAheadMs`: the CLI process's Date.now runs this far ahead of the real clock. */
function run(args: string[], viaTty = false, clockAheadMs = 0): Promise<Run> {
  const skew = clockAheadMs ? ['--import', `data:text/javascript,const n=Date.now;Date.now=()=>n()+${clockAheadMs};`] : [];
  const node = [process.execPath, ...skew, '--import', 'tsx', cli, ...args];
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
  // Seeded with better-sqlite3; the CLI opens the file with whichever driver the runtime has.
  const store = new SqliteStore({ filename: file, sweepIntervalMs: 0, driver: 'better-sqlite3' });
  const db = store.database as Database.Database;
  const now = Date.now();
  const ins = db.prepare('INSERT INTO sessionward_sessions VALUES (?, NULL, ?, 1, ?, ?, NULL, ?, ?, ?, NULL)');
  db.transaction(() => {
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

  it('--sqlite with a mistyped --table, or a file holding no session table, exits 1 with a hint and changes nothing (no table, no index, no WAL)', async () => {
    const file = join(dir, 'typo.db');
    const db = new Database(file);
    migrateSqlite(db);
    const before = () => ({
      objects: db.prepare('SELECT type, name FROM sqlite_master ORDER BY name').all(),
      meta: db.prepare('SELECT * FROM sessionward_meta').all(),
      journal: db.pragma('journal_mode', { simple: true }),
    });
    const was = before();
    expect(was.journal).toBe('delete');
    const r = await run(['cleanup', '--sqlite', file, '--table', 'sessionward_sesions']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no session table "sessionward_sesions"');
    expect(r.stderr).toContain('its session tables: "sessionward_sessions"');
    expect(before()).toEqual(was);

    const other = join(dir, 'not-sessions.db');
    const odb = new Database(other);
    odb.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)');
    const j = await run(['cleanup', '--sqlite', other, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ store: 'sqlite', error: expect.stringContaining('holds no sessionward table') });
    expect(odb.prepare('SELECT name FROM sqlite_master').all()).toEqual([{ name: 'users' }]);
    expect(odb.pragma('journal_mode', { simple: true })).toBe('delete');
    db.close();
    odb.close();
  });

  it('--postgres takes its cut-off from the database clock: a CLI host running an hour ahead deletes no live session', async () => {
    const table = `clock_${randomBytes(3).toString('hex')}`;
    const store = new PostgresStore({ pool, schema, table });
    await store.migrate();
    const now = Date.now();
    const live = makeRecord(now, { expiresAt: now + 30 * 60_000 });
    const dead = makeRecord(now, { expiresAt: now - 1 });
    await store.create(live);
    await store.create(dead);
    const r = await run(['cleanup', '--postgres', PGURL, '--schema', schema, '--table', table, '--json'], false, 3_600_000);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ store: 'postgres', removed: 1 });
    expect(await store.get(live.id, Date.now())).not.toBeNull();
  });

  it('--redis prunes stale per-user index entries of the chosen prefix and keeps live ones', async () => {
    const prefix = `swcli-${randomBytes(4).toString('hex')}:`;
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const store = new RedisStore({ client, prefix });
      const now = Date.now();
      const mk = async (userId: string | null, over: Partial<SessionRecord> = {}): Promise<SessionRecord> => {
        const r = makeRecord(now, { userId, ...over });
        expect(await store.create(r)).toBe(true);
        return r;
      };
      // alice: two live sessions and one whose absolute end passes in a moment (stale by score)
      const alive = [await mk('alice'), await mk('alice')];
      await mk('alice', { absoluteExpiresAt: now + 300, expiresAt: now + 300 });
      // bob: one live session, two whose session keys vanished (stale by existence)
      const bobLive = await mk('bob');
      for (const r of [await mk('bob'), await mk('bob')]) await client.del(store.sessionKey(r.id));
      // carol: her only session vanished, so her index key must go too
      const carol = await mk('carol');
      await client.del(store.sessionKey(carol.id));
      const anon = await mk(null);
      // another prefix sharing the same start is not this run's business
      const other = new RedisStore({ client, prefix: `${prefix}x:` });
      const foreign = makeRecord(now, { userId: 'dave' });
      await other.create(foreign);
      await client.del(other.sessionKey(foreign.id));
      while (Date.now() <= now + 300) await new Promise((r) => setTimeout(r, 50));

      const r = await run(['cleanup', '--redis', 'redis://127.0.0.1:6379', '--prefix', prefix, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary).toMatchObject({ store: 'redis', removed: 4 });
      expect(Object.keys(summary).sort()).toEqual(['ms', 'removed', 'store']);

      expect((await client.zRange(store.userKey('alice'), 0, -1)).sort()).toEqual(alive.map((x) => x.id).sort());
      expect(await client.zRange(store.userKey('bob'), 0, -1)).toEqual([bobLive.id]);
      expect(await client.exists(store.userKey('carol'))).toBe(0);
      expect((await store.listByUser('alice', Date.now())).map((x) => x.id).sort()).toEqual(alive.map((x) => x.id).sort());
      for (const x of [...alive, bobLive, anon]) expect(await store.get(x.id, Date.now())).not.toBeNull();
      expect(await client.zRange(other.userKey('dave'), 0, -1)).toEqual([foreign.id]);

      const again = await run(['cleanup', '--redis', 'redis://127.0.0.1:6379', '--prefix', prefix]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/^removed 0 stale index entries from redis in \d+ ms\n$/);
    } finally {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
      if (keys.length > 0) await client.del(keys);
      await client.quit();
    }
  });

  it('--redis pointed at one cluster node prunes the indexes on every master', async () => {
    const cluster = await startCluster();
    const client = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.nodes[0]!.port}` }] });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const prefix = 'swcli-cluster:';
      const store = new RedisStore({ client, prefix });
      const now = Date.now();
      const live = new Map<string, string>();
      for (let u = 0; u < 20; u++) {
        const keep = makeRecord(now, { userId: `user${u}` });
        const drop = makeRecord(now, { userId: `user${u}` });
        await store.create(keep);
        await store.create(drop);
        await client.del(store.sessionKey(drop.id));
        live.set(`user${u}`, keep.id);
      }
      // the user indexes really are spread over several masters
      const holding = await Promise.all((await cluster.masters()).map(async (port) => Number(await redisCli(port, 'DBSIZE')) > 0));
      expect(holding.filter(Boolean).length).toBeGreaterThan(1);

      const r = await run(['cleanup', '--redis', `redis://127.0.0.1:${cluster.nodes[0]!.port}`, '--prefix', prefix, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ store: 'redis', removed: 20 });
      for (const [user, id] of live) expect(await client.zRange(store.userKey(user), 0, -1)).toEqual([id]);
    } finally {
      await client.close().catch(() => undefined);
      await cluster.stop();
    }
  }, 90_000);

  it('--redis exits 1 when Redis is unreachable', async () => {
    const down = await run(['cleanup', '--redis', 'redis://127.0.0.1:1', '--json']);
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout)).toMatchObject({ store: 'redis' });
    expect(JSON.parse(down.stdout).error).toContain('ECONNREFUSED');
  });
});
