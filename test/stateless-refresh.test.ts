/**
 * Refresh tokens (SEC-20, SEC-21, SEC-33, SEC-34): rotation on every use, families, reuse
 * detection with a grace window for concurrent refreshes, idle and absolute expiry, binding,
 * atomic under 50 parallel refreshes on every store (memory, Redis, SQLite, PostgreSQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import pg from 'pg';
import { MemoryStore } from '../src/stores/memory.js';
import { RedisStore } from '../src/stores/redis.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { PostgresStore, quoteIdent } from '../src/stores/postgres.js';
import type { SessionStore } from '../src/stores/types.js';
import { RefreshTokens, Revocation, type StatelessEvent } from '../src/stateless/index-jwt.js';

const MIN = 60_000;

function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe('refresh token rotation (memory store)', () => {
  function setup(o: { graceMs?: number } = {}) {
    const c = clock();
    const events: StatelessEvent[] = [];
    const store = new MemoryStore({ clock: c.now });
    const rt = new RefreshTokens({ store, now: c.now, idleTimeout: 60 * MIN, absoluteTimeout: 240 * MIN, onEvent: (e) => events.push(e), ...o });
    return { c, store, rt, events };
  }

  it('SEC-33: each use rotates; the new token works and the generation grows', async () => {
    const { rt } = setup();
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    expect(a.refreshToken).toMatch(/^rt1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const b = await rt.rotate(a.refreshToken);
    expect(b.refreshToken).not.toBe(a.refreshToken);
    expect(b).toMatchObject({ userId: 'u1', sid: 's1', familyId: a.familyId, generation: 2 });
    const c2 = await rt.rotate(b.refreshToken);
    expect(c2.generation).toBe(3);
  });

  it('SEC-33: the previous token within the grace window gets ERR_REFRESH_RACE and the family survives', async () => {
    const { rt, c } = setup({ graceMs: 10_000 });
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    const b = await rt.rotate(a.refreshToken);
    c.advance(5_000);
    expect(await codeOf(rt.rotate(a.refreshToken))).toBe('ERR_REFRESH_RACE');
    expect((await rt.rotate(b.refreshToken)).generation).toBe(3);
  });

  it('SEC-33: reuse after the grace window revokes the whole family and emits a theft event', async () => {
    const { rt, c, events } = setup({ graceMs: 10_000 });
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    const b = await rt.rotate(a.refreshToken);
    c.advance(11_000);
    expect(await codeOf(rt.rotate(a.refreshToken))).toBe('ERR_TOKEN_REUSED');
    // The legitimate-looking current token is dead too: the family is revoked.
    expect(await codeOf(rt.rotate(b.refreshToken))).toBe('ERR_TOKEN_REVOKED');
    const reuse = events.find((e) => e.type === 'refresh.reuse');
    expect(reuse).toMatchObject({ familyHash: expect.any(String), tokenHash: expect.any(String) });
    expect(JSON.stringify(events)).not.toContain(a.refreshToken.split('.')[2]!);
  });

  it('SEC-33: a token two generations old is reuse even inside the grace window', async () => {
    const { rt } = setup();
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    const b = await rt.rotate(a.refreshToken);
    await rt.rotate(b.refreshToken);
    expect(await codeOf(rt.rotate(a.refreshToken))).toBe('ERR_TOKEN_REUSED');
  });

  it('SEC-33: a made-up secret beside a known family id is invalid and never ends the family; a really issued old token still does', async () => {
    const { rt, c, events } = setup({ graceMs: 10_000 });
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    let cur = await rt.rotate(a.refreshToken);
    c.advance(11_000);
    for (const forged of [`rt1.${a.familyId}.${'A'.repeat(43)}`, `rt1.${a.familyId}.${cur.refreshToken.split('.')[2]!.slice(0, 42)}${cur.refreshToken.endsWith('B') ? 'C' : 'B'}`]) {
      expect(await codeOf(rt.rotate(forged))).toBe('ERR_TOKEN_INVALID');
    }
    expect(events.some((e) => e.type === 'refresh.reuse')).toBe(false);
    const issued = [a.refreshToken, cur.refreshToken];
    for (let i = 0; i < 5; i++) issued.push((cur = await rt.rotate(cur.refreshToken)).refreshToken);
    c.advance(11_000);
    // Five rotations later, the first token is still recognised as this family's: theft.
    expect(await codeOf(rt.rotate(issued[0]!))).toBe('ERR_TOKEN_REUSED');
    expect(await codeOf(rt.rotate(cur.refreshToken))).toBe('ERR_TOKEN_REVOKED');
  });

  it('SEC-34: idle and absolute expiry', async () => {
    const { rt, c } = setup();
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    c.advance(61 * MIN);
    expect(await codeOf(rt.rotate(a.refreshToken))).toBe('ERR_TOKEN_EXPIRED');
    let t = (await rt.issue({ userId: 'u1', sid: 's2' })).refreshToken;
    // Active every 50 min (within idle), but the family ends 240 min after login.
    for (let i = 0; i < 5; i++) {
      c.advance(50 * MIN);
      if (i < 4) t = (await rt.rotate(t)).refreshToken;
      else expect(['ERR_TOKEN_EXPIRED', 'ERR_TOKEN_INVALID']).toContain(await codeOf(rt.rotate(t)));
    }
  });

  it('SEC-34: a refresh token is bound to its session and user', async () => {
    const { rt } = setup();
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    expect(await codeOf(rt.rotate(a.refreshToken, { sid: 's2' }))).toBe('ERR_TOKEN_INVALID');
    expect(await codeOf(rt.rotate(a.refreshToken, { userId: 'u2' }))).toBe('ERR_TOKEN_INVALID');
    expect((await rt.rotate(a.refreshToken, { sid: 's1', userId: 'u1' })).userId).toBe('u1');
  });

  it('SEC-21: the store holds only hashes; malformed tokens are invalid; logout revokes', async () => {
    const { rt, store } = setup();
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    const secret = a.refreshToken.split('.')[2]!;
    const dump = JSON.stringify([...(store as unknown as { map: Map<string, unknown> }).map.values()]);
    expect(dump).not.toContain(secret);
    for (const bad of ['', 'rt1..', 'x'.repeat(5000), `rt1.${a.familyId}.${'A'.repeat(42)}`, 'eyJ.eyJ.sig', null]) {
      expect(await codeOf(rt.rotate(bad as string))).toBe('ERR_TOKEN_INVALID');
    }
    await rt.revoke(a.refreshToken);
    expect(await codeOf(rt.rotate(a.refreshToken))).toBe('ERR_TOKEN_REVOKED');
  });

  it('SEC-37: a user cut-off stops refreshes, and reuse denylists the session id', async () => {
    const c = clock();
    const store = new MemoryStore({ clock: c.now });
    const revocation = new Revocation({ store, now: c.now });
    const rt = new RefreshTokens({ store, now: c.now, revocation, graceMs: 0 });
    const a = await rt.issue({ userId: 'u1', sid: 's1' });
    c.advance(1000);
    await revocation.revokeUser('u1');
    expect(await codeOf(rt.rotate(a.refreshToken))).toBe('ERR_TOKEN_REVOKED');
    const b = await rt.issue({ userId: 'u2', sid: 's2' });
    await rt.rotate(b.refreshToken);
    c.advance(1);
    expect(await codeOf(rt.rotate(b.refreshToken))).toBe('ERR_TOKEN_REUSED');
    expect(await revocation.isRevoked({ id: 's2', userId: 'u2', issuedAt: c.now() })).toBe(true);
  });
});

// ---- SEC-20 on every real store ----
const dir = mkdtempSync(join(tmpdir(), 'sw-stateless-refresh-'));
const schema = `sw_stateless_${randomBytes(5).toString('hex')}`;
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: process.env.PGUSER ?? 'postgres', max: 10 });
const redis = createClient({ url: 'redis://127.0.0.1:6379' });
const prefix = `swtest:stateless:${randomBytes(5).toString('hex')}:`;
const stores: Array<[string, () => SessionStore]> = [];

beforeAll(async () => {
  await redis.connect();
  const pgStore = new PostgresStore({ pool, schema });
  await pgStore.migrate();
  const sqlite = new SqliteStore({ filename: join(dir, 'r.db'), sweepIntervalMs: 0 });
  stores.push(['memory', () => new MemoryStore()], ['redis', () => new RedisStore({ client: redis, prefix })], ['sqlite', () => sqlite], ['postgres', () => pgStore]);
});

afterAll(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await redis.del(keys);
  await redis.quit();
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
  for (const [name, f] of stores) if (name === 'sqlite') await f().close?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('SEC-20: atomic rotation on every store', () => {
  for (const name of ['memory', 'redis', 'sqlite', 'postgres']) {
    it(`SEC-20: 50 parallel refreshes of one token give exactly one new token (${name})`, async () => {
      const store = stores.find(([n]) => n === name)![1]();
      const rt = new RefreshTokens({ store });
      const a = await rt.issue({ userId: 'u1', sid: 's1' });
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => rt.rotate(a.refreshToken)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const codes = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason.code);
      expect(ok).toHaveLength(1);
      expect(new Set(codes)).toEqual(new Set(['ERR_REFRESH_RACE']));
      // The family survived the race: the winner's token rotates on.
      const winner = (ok[0] as PromiseFulfilledResult<{ refreshToken: string }>).value.refreshToken;
      expect((await rt.rotate(winner)).generation).toBe(3);
    });
  }
});
