import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SqliteStore } from '../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../src/stores/postgres.js';
import { makeRecord } from '../src/testing/conformance.js';
import { normaliseKeys } from '../src/stateless/keys-common.js';
import { importJwtKey } from '../src/stateless/jwt/keys.js';
import { requireDriver, DriverMissingError } from '../src/cli/store-url.js';
import { cli } from './helpers/cli-run.js';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sw-cli-cmd-'));
const PGURL = `postgres://${process.env.PGUSER ?? 'postgres'}@127.0.0.1:5432/test`;
const schema = `sw_cli_cmd_${randomBytes(6).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PGURL });
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
});

describe('sessionward --version and --help', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });

  it.each(['audit', 'entropy', 'keygen', 'keys rotate', 'migrate', 'sessions list', 'sessions revoke', 'sessions stats', 'doctor', 'cleanup'])(
    '%s --help shows an example',
    async (cmd) => {
      const r = await cli([...cmd.split(' '), '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Example:\n\s+\$ sessionward /);
    },
  );

  it('the top-level help lists every command', async () => {
    const r = await cli(['--help']);
    for (const c of ['audit', 'entropy', 'keygen', 'keys', 'migrate', 'sessions', 'doctor', 'cleanup']) expect(r.stdout).toMatch(new RegExp(`\\n\\s+${c}\\b`));
  });
});

describe('sessionward keygen and keys rotate', () => {
  it('every kind gives a key that the matching option accepts', async () => {
    const key = async (kind: string) => JSON.parse((await cli(['keygen', '--kind', kind, '--json', '--id', 'k1'])).stdout).key;
    const secret = await key('session');
    expect(Buffer.byteLength(secret)).toBeGreaterThanOrEqual(32);
    expect(normaliseKeys([await key('sealed')])[0]!.raw).toHaveLength(32);
    expect(importJwtKey(await key('jwt-hs256')).algorithms).toEqual(['HS256']);
    const es = await key('jwt-es256');
    expect(importJwtKey(es).signKey).not.toBeNull();
    expect(es.publicJwk.d).toBeUndefined();
    expect(importJwtKey({ kid: 'k1', key: es.publicJwk }).algorithms).toEqual(['ES256']);
    expect(importJwtKey(await key('jwt-eddsa')).algorithms).toEqual(['EdDSA']);
    expect(await key('session')).not.toBe(secret);
  });

  it('an unknown kind or a bad id is a usage error', async () => {
    expect((await cli(['keygen', '--kind', 'rsa'])).code).toBe(2);
    expect((await cli(['keygen', '--kind', 'sealed', '--id', 'has space'])).code).toBe(2);
  });

  it('keys rotate prints the steps, newest key first', async () => {
    const r = await cli(['keys', 'rotate', '--kind', 'sealed', '--json']);
    expect(r.code).toBe(0);
    const { steps } = JSON.parse(r.stdout);
    expect(steps[0]).toMatch(/keygen --kind sealed/);
    expect(steps.join('\n')).toMatch(/FIRST/);
  });
});

describe('sessionward migrate and sessions', () => {
  it('migrate creates the PostgreSQL table, is idempotent, and sessions list/revoke/stats work on it', async () => {
    const url = PGURL;
    // Before migrate, the table is missing: a store error (exit 1), not a crash.
    const before = await cli(['sessions', 'stats', '--store', url, '--schema', schema, '--json']);
    expect(before.code).toBe(1);
    for (let i = 0; i < 2; i++) {
      const m = await cli(['migrate', '--postgres', url, '--schema', schema, '--json']);
      expect(m.code).toBe(0);
      expect(JSON.parse(m.stdout)).toMatchObject({ store: 'postgres', table: `${schema}.sessionward_sessions` });
    }
    const now = Date.now();
    const store = new PostgresStore({ pool, schema });
    for (const [id, userId] of [['a', 'u1'], ['b', 'u1'], ['c', 'u2']]) await store.create(makeRecord(now, { id: id!, userId }));
    expect(JSON.parse((await cli(['sessions', 'stats', '--store', url, '--schema', schema, '--json'])).stdout)).toEqual({ store: 'postgres', live: 3 });
    const list = JSON.parse((await cli(['sessions', 'list', '--user', 'u1', '--store', url, '--schema', schema, '--json'])).stdout);
    expect(list.sessions.map((s: { id: string }) => s.id).sort()).toEqual(['a', 'b']);
    expect(JSON.parse((await cli(['sessions', 'revoke', '--user', 'u1', '--store', url, '--schema', schema, '--json'])).stdout)).toEqual({ user: 'u1', revoked: 2 });
    expect(JSON.parse((await cli(['sessions', 'stats', '--store', url, '--schema', schema, '--json'])).stdout).live).toBe(1);
  });

  it('sessions work on SQLite; bad usage exits 2', async () => {
    const file = join(dir, 's.db');
    const store = new SqliteStore({ filename: file, sweepIntervalMs: 0 });
    await store.create(makeRecord(Date.now(), { id: 'x', userId: 'u9' }));
    await store.close();
    const r = await cli(['sessions', 'list', '--user', 'u9', '--store', `sqlite:${file}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1 live session\(s\) of u9/);
    expect((await cli(['sessions', 'list', '--store', `sqlite:${file}`])).code).toBe(2);
    expect((await cli(['sessions', 'stats', '--store', 'mysql://x/'])).code).toBe(2);
    expect((await cli(['migrate'])).code).toBe(2);
  });

  it('a missing optional driver names the package to install', async () => {
    const e = await requireDriver('sessionward-no-such-driver', () => import('sessionward-no-such-driver' as string)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DriverMissingError);
    expect((e as Error).message).toBe('this needs the optional package "sessionward-no-such-driver", which is not installed: npm i sessionward-no-such-driver');
  });
});

describe('sessionward doctor', () => {
  it('fails a short secret from the environment, passes a good one with a reachable store', async () => {
    const bad = await cli(['doctor', '--json']);
    expect(bad.code).toBe(0); // nothing configured: warnings only
    process.env.SESSION_SECRETS = 'short';
    try {
      const r = await cli(['doctor', '--json']);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === 'secrets')).toMatchObject({ status: 'fail' });
      process.env.SESSION_SECRETS = 'x'.repeat(32);
      const ok = await cli(['doctor', '--json', '--store', 'redis://127.0.0.1:6379']);
      expect(JSON.parse(ok.stdout).checks.map((c: { status: string }) => c.status)).toEqual(['ok', 'ok', 'ok']);
      expect(ok.code).toBe(0);
      const down = await cli(['doctor', '--json', '--store', 'redis://127.0.0.1:1']);
      expect(down.code).toBe(1);
    } finally {
      delete process.env.SESSION_SECRETS;
    }
  });

  it('checks a config module: cookie settings and its store', async () => {
    const file = join(dir, 'session.config.mjs');
    writeFileSync(
      file,
      `import { MemoryStore } from ${JSON.stringify(join(root, 'src/stores/memory.ts'))};\nexport default { store: new MemoryStore(), secrets: ['${'k'.repeat(40)}'], cookie: { sameSite: 'None', insecureDevelopmentCookies: true } };\n`,
    );
    const r = await cli(['doctor', '--config', file, '--json']);
    const checks = JSON.parse(r.stdout).checks as Array<{ name: string; status: string; detail: string }>;
    expect(checks.find((c) => c.name === 'cookie')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/insecureDevelopmentCookies.*SameSite=None/) });
    expect(checks.find((c) => c.name === 'store')).toMatchObject({ status: 'ok' });
    expect(r.code).toBe(0);
    expect((await cli(['doctor', '--config', join(dir, 'missing.mjs')])).code).toBe(2);
  });
});
