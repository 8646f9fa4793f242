import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { PostgresStore, quoteIdent } from '../src/stores/postgres.js';
import { POSTGRES_SCHEMA_VERSION, renderPostgresScript } from '../src/stores/postgres-migrations.js';
import { readFileSync } from 'node:fs';
import { sha256Sync } from '../src/crypto/node.js';

const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: process.env.PGUSER ?? 'postgres' };
const schema = `sw_test_${randomBytes(6).toString('hex')}`;
const pool = new pg.Pool({ ...PG, max: 10 });

beforeAll(async () => {
  await new PostgresStore({ pool, schema }).migrate();
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
});

let tables = 0;
testSessionStore('postgres', async () => {
  // a table per case keeps cases independent without re-creating the schema
  const store = new PostgresStore({ pool, schema, table: `conf_${tables++}` });
  await store.migrate();
  return { store };
});

describe('PostgresStore', () => {
  it('keeps data jsonb can hold as a queryable object, and data it refuses (NUL, lone surrogates) as a jsonb string of its JSON text', async () => {
    const store = new PostgresStore({ pool, schema, table: 'jsonb_forms' });
    await store.migrate();
    const now = Date.now();
    const plain = makeRecord(now, { data: { next: '/account' } });
    const hostile = makeRecord(now, { data: { next: '/account\u0000' }, meta: { userAgent: '\ud800' } });
    await store.create(plain);
    await store.create(hostile);
    const rows = await pool.query(`SELECT id, jsonb_typeof(data) AS data, jsonb_typeof(meta) AS meta, data->>'next' AS next FROM ${quoteIdent(schema)}.jsonb_forms`);
    const byId = new Map(rows.rows.map((r) => [r.id as string, r]));
    expect(byId.get(plain.id)).toMatchObject({ data: 'object', meta: 'object', next: '/account' });
    expect(byId.get(hostile.id)).toMatchObject({ data: 'string', meta: 'string', next: null });
    expect((await store.get(hostile.id, now))!.data).toEqual({ next: '/account\u0000' });
  });

  it('two concurrent migrate() calls on a fresh schema are safe and idempotent', async () => {
    const fresh = `${schema}_m`;
    const pools = [new pg.Pool({ ...PG, max: 1 }), new pg.Pool({ ...PG, max: 1 }), new pg.Pool({ ...PG, max: 1 })];
    try {
      const stores = pools.map((p) => new PostgresStore({ pool: p, schema: fresh }));
      const versions = await Promise.all(stores.map((s) => s.migrate()));
      expect(versions).toEqual([POSTGRES_SCHEMA_VERSION, POSTGRES_SCHEMA_VERSION, POSTGRES_SCHEMA_VERSION]);
      expect(await stores[0]!.migrate()).toBe(POSTGRES_SCHEMA_VERSION);
      const m = await pool.query(`SELECT table_name, version FROM ${quoteIdent(fresh)}.sessionward_migrations`);
      expect(m.rows).toEqual([{ table_name: 'sessionward_sessions', version: POSTGRES_SCHEMA_VERSION }]);
      const idx = await pool.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [fresh]);
      expect(idx.rows.map((r) => r.indexname)).toEqual([
        'sessionward_migrations_pkey',
        'sessionward_sessions_expires_at_idx',
        'sessionward_sessions_pkey',
        'sessionward_sessions_user_id_idx',
      ]);
      const r = makeRecord(Date.now());
      expect(await stores[1]!.create(r)).toBe(true);
      expect(await stores[2]!.get(r.id, Date.now())).not.toBeNull();
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(fresh)} CASCADE`);
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('refuses a table written by a newer schema version', async () => {
    const store = new PostgresStore({ pool, schema, table: 'newer' });
    await store.migrate();
    await pool.query(`UPDATE ${quoteIdent(schema)}.sessionward_migrations SET version = 999 WHERE table_name = 'newer'`);
    await expect(store.migrate()).rejects.toMatchObject({ code: 'ERR_STORE' });
  });

  it('quotes hostile schema and table names safely', async () => {
    const odd = `${schema}"; DROP TABLE x; --`;
    const store = new PostgresStore({ pool, schema: odd, table: 'we"ird table' });
    try {
      await store.migrate();
      const r = makeRecord(Date.now(), { userId: 'u' });
      expect(await store.create(r)).toBe(true);
      expect((await store.listByUser('u', Date.now())).map((x) => x.id)).toEqual([r.id]);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(odd)} CASCADE`);
    }
  });

  it('returns bigint times as numbers and stores data as jsonb', async () => {
    const store = new PostgresStore({ pool, schema });
    const now = Date.now();
    const r = makeRecord(now, { authTime: now - 1, data: { deep: { list: [1, 2] } } });
    await store.create(r);
    const got = (await store.get(r.id, now))!;
    for (const k of ['createdAt', 'lastSeenAt', 'authTime', 'absoluteExpiresAt', 'expiresAt', 'version'] as const) {
      expect(typeof got[k]).toBe('number');
    }
    const types = await pool.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'sessionward_sessions'`,
      [schema],
    );
    const byName = Object.fromEntries(types.rows.map((x) => [x.column_name, x.data_type]));
    expect(byName).toMatchObject({ data: 'jsonb', meta: 'jsonb', expires_at: 'bigint', absolute_expires_at: 'bigint' });
    const q = await pool.query(`SELECT data->'deep'->'list'->>1 AS v FROM ${quoteIdent(schema)}.sessionward_sessions WHERE id = $1`, [r.id]);
    expect(q.rows[0].v).toBe('2');
  });

  it('SEC-19: expires_at is min(idle, absolute) after create, touch and update', async () => {
    const store = new PostgresStore({ pool, schema });
    const now = Date.now();
    const idle = 60_000;
    const r = makeRecord(now, { absoluteExpiresAt: now + 90_000, expiresAt: now + idle });
    await store.create(r);
    const raw = async (): Promise<number> =>
      Number((await pool.query(`SELECT expires_at FROM ${quoteIdent(schema)}.sessionward_sessions WHERE id = $1`, [r.id])).rows[0].expires_at);
    expect(await raw()).toBe(now + idle);
    expect(await store.touch(r.id, now + 20_000, now + 20_000 + idle, now + 20_000)).toBe(true);
    expect(await raw()).toBe(now + 80_000); // idle wins
    expect(await store.touch(r.id, now + 50_000, now + 50_000 + idle, now + 50_000)).toBe(true);
    expect(await raw()).toBe(now + 90_000); // absolute wins
    expect(await store.update({ ...r, version: 2, expiresAt: now + 500_000 }, 1, now + 50_000)).toBe(true);
    expect(await raw()).toBe(now + 90_000);
    expect(await store.get(r.id, now + 90_000)).toBeNull();
    expect(await store.touch(r.id, now + 90_001, now + 200_000, now + 90_001)).toBe(false);
    expect(await raw()).toBe(now + 90_000);
  });

  it('SEC-21: a dump of the table holds the token hash, never the raw token', async () => {
    const store = new PostgresStore({ pool, schema });
    const token = randomBytes(32).toString('base64url');
    const r = makeRecord(Date.now(), { id: sha256Sync(token), userId: 'sec21', data: { cart: [1] } });
    await store.create(r);
    const dump = await pool.query(`SELECT t::text AS line FROM ${quoteIdent(schema)}.sessionward_sessions t`);
    const text = dump.rows.map((x) => x.line).join('\n');
    expect(text).toContain(sha256Sync(token));
    expect(text).not.toContain(token);
  });

  it('cleanup removes expired rows in bounded batches and keeps live ones', async () => {
    const store = new PostgresStore({ pool, schema, table: 'sweep' });
    await store.migrate();
    const now = Date.now();
    await pool.query(
      `INSERT INTO ${quoteIdent(schema)}.sweep (id, data, version, created_at, last_seen_at, absolute_expires_at, expires_at)
       SELECT 'dead-' || g, '{}'::jsonb, 1, $1::bigint, $1::bigint, $2::bigint, $2::bigint - g FROM generate_series(1, 2500) g`,
      [now - 10_000, now - 1],
    );
    const live = makeRecord(now);
    await store.create(live);
    expect(await store.cleanup(now, 1000)).toBe(1000);
    expect(await store.cleanup(now, 1000)).toBe(1000);
    expect(await store.cleanup(now, 1000)).toBe(500);
    expect(await store.cleanup(now, 1000)).toBe(0);
    expect(await store.count(now)).toBe(1);
    expect(await store.get(live.id, now)).not.toBeNull();
  });

  it('a refused connection rejects with StoreUnavailableError', async () => {
    const dead = new pg.Pool({ host: '127.0.0.1', port: 1, database: 'test', user: 'postgres' });
    const store = new PostgresStore({ pool: dead, schema, statementTimeoutMs: 2000 });
    await expect(store.get('x', Date.now())).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await expect(store.migrate()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await dead.end();
  });

  it('an exhausted pool rejects with StoreUnavailableError instead of hanging', async () => {
    const small = new pg.Pool({ ...PG, max: 1 });
    const store = new PostgresStore({ pool: small, schema, statementTimeoutMs: 200 });
    const held = await small.connect();
    try {
      await expect(store.get('x', Date.now())).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      held.release();
    }
    expect(await store.get('x', Date.now())).toBeNull();
    await small.end();
  });

  it('a statement blocked past statementTimeoutMs rejects with StoreUnavailableError', async () => {
    const store = new PostgresStore({ pool, schema, statementTimeoutMs: 300 });
    const r = makeRecord(Date.now());
    await store.create(r);
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${quoteIdent(schema)}.sessionward_sessions WHERE id = $1 FOR UPDATE`, [r.id]);
      await expect(store.update({ ...r, version: 2 }, 1, Date.now())).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await locker.query('ROLLBACK');
    } finally {
      locker.release();
    }
    // the pool is healthy afterwards and the CAS still holds
    expect(await store.update({ ...r, version: 2, data: { after: true } }, 1, Date.now())).toBe(true);
    expect((await store.get(r.id, Date.now()))!.version).toBe(2);
  });

  it('works on a single pg Client too', async () => {
    const client = new pg.Client(PG);
    await client.connect();
    try {
      const store = new PostgresStore({ client, schema });
      await store.migrate();
      const r = makeRecord(Date.now());
      expect(await store.create(r)).toBe(true);
      expect((await store.get(r.id, Date.now()))!.id).toBe(r.id);
    } finally {
      await client.end();
    }
  });

  it('docs/postgres.sql is the shipped schema, and migrate() accepts a database built from it', async () => {
    const file = readFileSync(new URL('../docs/postgres.sql', import.meta.url), 'utf8');
    expect(file).toBe(renderPostgresScript());
    const own = `${schema}_doc`;
    const client = await pool.connect();
    try {
      await client.query(`CREATE SCHEMA ${quoteIdent(own)}`);
      await client.query(file.replaceAll('"public".', `${quoteIdent(own)}.`));
      const store = new PostgresStore({ pool, schema: own });
      expect(await store.migrate()).toBe(POSTGRES_SCHEMA_VERSION);
      const r = makeRecord(Date.now(), { userId: 'doc' });
      expect(await store.create(r)).toBe(true);
      expect((await store.listByUser('doc', Date.now())).length).toBe(1);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(own)} CASCADE`);
      client.release();
    }
  });

  it('refuses ambiguous configuration', () => {
    expect(() => new PostgresStore({} as never)).toThrow(/`pool` is required: install the driver \(`npm i pg`\)/);
    expect(() => new PostgresStore({ pool, table: 'x'.repeat(41) })).toThrow(/40 bytes/);
  });
});

describe('PostgresStore: log out everywhere racing a rotation', () => {
  it('SEC-38: a session rotated while deleteByUser runs does not survive it (found by the lifecycle model test)', async () => {
    const { SessionManager } = await import('../src/index.js');
    const { SECRET, nextCookie } = await import('./helpers/core.js');
    const table = `race_${tables++}`;
    const store = new PostgresStore({ pool, schema, table });
    await store.migrate();
    const manager = new SessionManager({ store, secrets: [SECRET] });
    const signIn = async () => {
      const s = await manager.load({});
      await s.login('alice');
      return { id: s.id!, cookie: nextCookie((await manager.commit(s)).headers) };
    };
    const other = await signIn();
    const renewing = await signIn();
    // Hold the other device's row, so deleteByUser takes its snapshot and then waits mid-scan.
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${quoteIdent(schema)}.${quoteIdent(table)} WHERE id = $1 FOR UPDATE`, [other.id]);
      const deleting = manager.destroyUserSessions('alice');
      await new Promise((r) => setTimeout(r, 100));
      // Meanwhile a request renews the other session: successor inserted, old row made a pointer.
      const s = await manager.load({ cookie: renewing.cookie });
      await s.renew();
      const next = nextCookie((await manager.commit(s)).headers);
      await locker.query('COMMIT');
      await deleting;
      expect((await manager.load({ cookie: next })).userId).toBeNull();
      expect(await manager.listUserSessions('alice')).toEqual([]);
    } finally {
      locker.release();
    }
  });
});
