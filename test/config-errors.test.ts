/**
 * Every start-up mistake a new user makes in the first hour is a typed ConfigError whose message
 * says what to do: an unset key reads differently from a short one and names the keygen command,
 * a missing driver names the package to install, a missing PostgreSQL table names the command
 * that creates it. Sealed sessions check their keys where the app builds them, not on a request.
 */
import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { ConfigError, MemoryStore, SessionManager } from '../src/index.js';
import { createSealedSessions, createSealedSessionsWeb, getSealedSession, getSealedSessionWeb } from '../src/stateless/index-sealed.js';
import { importJwtKey } from '../src/stateless/jwt/keys.js';
import { DpopVerifier } from '../src/stateless/jwt/dpop.js';
import { doubleSubmit } from '../src/csrf/double-submit.js';
import { verifyAuditLog } from '../src/monitor/audit-log.js';
import { RedisStore } from '../src/stores/redis.js';
import { PostgresStore } from '../src/stores/postgres.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { hasNodeSqlite } from '../src/stores/sqlite-driver.js';
import type { SealKey } from '../src/stateless/keys-common.js';

/** Run `fn`, expect a ConfigError (the class and the stable code), return its message. */
function configMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('ERR_CONFIG');
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const UNSET = process.env.SESSIONWARD_TEST_SURELY_UNSET_VARIABLE;
const SHORT = 'keyboard cat';
const store = new MemoryStore();

describe('key errors: missing vs too short, and the command that makes one', () => {
  it('SessionManager secrets: an unset environment variable is "missing", not "too short"', () => {
    const m = configMessage(() => new SessionManager({ store, secrets: [UNSET!] }));
    expect(m).toMatch(/^secrets\[0\] is missing \(got undefined; is its environment variable set\?\)/);
    expect(m).toContain('npx sessionward keygen --kind session');
    expect(m).not.toMatch(/too short/);
  });

  it('SessionManager secrets: a short secret says how long it is and what is required', () => {
    const m = configMessage(() => new SessionManager({ store, secrets: [randomBytes(32).toString('base64url'), SHORT] }));
    expect(m).toMatch(/^secrets\[1\] is too short: 12 bytes, at least 32 bytes \(256 bits\)/);
    expect(m).toContain('npx sessionward keygen --kind session');
    expect(m).not.toContain(SHORT); // a weak secret is still a secret: never echoed
  });

  it('sealed keys: missing and short keys name `keygen --kind sealed`', () => {
    const missing = configMessage(() => createSealedSessions({ keys: [{ id: 'k1', key: UNSET! }] }));
    expect(missing).toMatch(/^sealed key k1 is missing \(got undefined/);
    expect(missing).toContain('npx sessionward keygen --kind sealed');
    const short = configMessage(() => createSealedSessions({ keys: [{ id: 'k1', key: SHORT }] }));
    expect(short).toMatch(/^sealed key k1 is 12 characters, not a 43-character base64url key/);
    expect(short).toContain('npx sessionward keygen --kind sealed');
    const none = configMessage(() => createSealedSessions({ keys: [] }));
    expect(none).toContain('npx sessionward keygen --kind sealed');
  });

  it('JWT HMAC secrets: missing and short name `keygen --kind jwt-hs256`', () => {
    const missing = configMessage(() => importJwtKey({ kid: 'a', secret: UNSET!, algorithms: ['HS256'] }));
    expect(missing).toMatch(/^key a: the HMAC secret is missing/);
    expect(missing).toContain('npx sessionward keygen --kind jwt-hs256');
    const short = configMessage(() => importJwtKey({ kid: 'a', secret: SHORT, algorithms: ['HS256'] }));
    expect(short).toMatch(/too short: 12 bytes, at least 32 bytes \(256 bits\)/);
  });

  it('DPoP nonce secret: an unset one is a ConfigError, not a TypeError', () => {
    expect(configMessage(() => new DpopVerifier({ store, nonce: { secret: UNSET! } }))).toMatch(/^DPoP nonce secret is missing.*keygen --kind session/);
    expect(configMessage(() => new DpopVerifier({ store, nonce: { secret: SHORT } }))).toMatch(/^DPoP nonce secret is too short: 12 bytes/);
  });

  it('CSRF double-submit and audit-log keys say the same', () => {
    expect(configMessage(() => doubleSubmit({ secrets: [UNSET!] }))).toMatch(/^doubleSubmit: secrets\[0\] is missing.*keygen --kind session/);
    expect(configMessage(() => doubleSubmit({ secrets: [] }))).toContain('npx sessionward keygen --kind session');
    expect(configMessage(() => verifyAuditLog('', { chainKey: SHORT }))).toMatch(/^audit log chainKey is too short.*keygen --kind session/);
  });
});

describe('driver errors name the package to install', () => {
  it('RedisStore without a client: npm i redis (or ioredis) and how to connect', () => {
    const m = configMessage(() => new RedisStore({} as never));
    expect(m).toContain('npm i redis');
    expect(m).toContain('createClient(');
  });

  it('PostgresStore without a pool: npm i pg and the Pool to pass; both given is its own message', () => {
    const m = configMessage(() => new PostgresStore({}));
    expect(m).toContain('npm i pg');
    expect(m).toContain('new pg.Pool(');
    const pool = new pg.Pool();
    expect(configMessage(() => new PostgresStore({ pool, client: {} as never }))).toMatch(/not both/);
    void pool.end();
  });

  it.runIf(!hasNodeSqlite())('SqliteStore asked for node:sqlite where there is none: the Node it needs, or npm i better-sqlite3@12', () => {
    const m = configMessage(() => new SqliteStore({ filename: ':memory:', driver: 'node:sqlite' }));
    expect(m).toMatch(/Node >= 22\.13/);
    expect(m).toContain('npm i better-sqlite3@12');
  });
});

describe('PostgreSQL table that was never created', () => {
  const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: process.env.PGUSER ?? 'postgres', max: 2 });
  afterAll(() => pool.end());

  it('the first query is a ConfigError naming `sessionward migrate` and docs/postgres.sql, not a bare store failure', async () => {
    const table = `sw_never_created_${randomBytes(5).toString('hex')}`;
    const s = new PostgresStore({ pool, table });
    const err = await s.get('x', Date.now()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG');
    expect((err as Error).message).toContain(`"public"."${table}" does not exist`);
    expect((err as Error).message).toContain('npx sessionward migrate --postgres <url>');
    expect((err as Error).message).toContain('docs/postgres.sql');
    // and a write on a single client, the other connection path
    const client = await pool.connect();
    try {
      const one = new PostgresStore({ client, table });
      await expect(one.delete('x')).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    } finally {
      client.release();
    }
  });
});

describe('sealed sessions check their keys where the app builds them', () => {
  const unsetKey: SealKey[] = [{ id: 'k1', key: UNSET! }];

  it('createSealedSessionsWeb throws the ConfigError at once (no rejected promise left for the first request)', () => {
    const m = configMessage(() => createSealedSessionsWeb({ keys: unsetKey }));
    expect(m).toMatch(/^sealed key k1 is missing/);
    // options other than keys are checked synchronously too
    const good: SealKey[] = [{ id: 'k1', key: randomBytes(32).toString('base64url') }];
    expect(configMessage(() => createSealedSessionsWeb({ keys: good, idleTimeout: 10 * 3600_000 }))).toMatch(/idleTimeout cannot exceed/);
  });

  it('a node:http server built from createSealedSessions(...) at start-up serves sessions with it', async () => {
    expect(() => createSealedSessions({ keys: unsetKey })).toThrow(ConfigError);
    const sealed = createSealedSessions<{ n?: number }>({ keys: [{ id: 'k1', key: randomBytes(32).toString('base64url') }], insecureDevelopmentCookies: true });
    const server = http.createServer((req, res) => {
      void (async () => {
        const s = await getSealedSession(req, res, sealed);
        s.n = (s.n ?? 0) + 1;
        await s.save();
        res.end(String(s.n));
      })().catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const first = await fetch(url);
      expect(first.status).toBe(200);
      expect(await first.text()).toBe('1');
      const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const second = await fetch(url, { headers: { cookie } });
      expect(await second.text()).toBe('2');
    } finally {
      server.close();
    }
  });

  it('getSealedSessionWeb takes what createSealedSessionsWeb returned', async () => {
    const sealed = createSealedSessionsWeb<{ n?: number }>({ keys: [{ id: 'k1', key: randomBytes(32).toString('base64url') }] });
    const s = await getSealedSessionWeb(new Request('https://app.example.com/'), sealed);
    s.n = 1;
    await s.save();
    expect(s.setCookieHeaders[0]).toMatch(/^__Host-session=v1\.k1\./);
  });
});
