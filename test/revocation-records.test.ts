/**
 * Issue 21, finding 7: revocation records stay bounded (entries expire with their credential),
 * checks cost the same however many credentials were revoked, and concurrent revocations all land.
 * Issue 19: revocation records are pinned, so a store that evicts keeps them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { MemoryStore } from '../src/stores/memory.js';
import { RedisStore } from '../src/stores/redis.js';
import type { SessionStore } from '../src/stores/types.js';
import { Revocation } from '../src/stateless/revocation.js';
import { makeRecord } from '../src/testing/conformance.js';

const RUN = `swrr:${randomBytes(4).toString('hex')}:`;
let admin: ReturnType<typeof createClient>;

beforeAll(async () => {
  admin = createClient({ url: 'redis://127.0.0.1:6379' });
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  const keys = await admin.keys(`${RUN}*`);
  if (keys.length) await admin.del(keys);
  await admin.quit();
});

function reads(store: SessionStore): { store: SessionStore; n: () => number } {
  let n = 0;
  const s: SessionStore = {
    name: store.name,
    get: (id, now) => {
      n++;
      return store.get(id, now);
    },
    create: (r) => store.create(r),
    update: (r, v, now) => store.update(r, v, now),
    touch: (id, l, e, now) => store.touch(id, l, e, now),
    delete: (id) => store.delete(id),
    listByUser: (u, now) => store.listByUser(u, now),
    deleteByUser: (u, except) => store.deleteByUser(u, except),
  };
  return { store: s, n: () => n };
}

describe('revocation records (issue 21, finding 7)', () => {
  it('SEC-37: 2,500 revocations of one user leave every record small and a check at two reads', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}size:` });
    const counted = reads(store);
    const revocation = new Revocation({ store: counted.store });
    const now = Date.now();
    for (let i = 0; i < 2500; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, k) => revocation.revokeSession(`jti-${i + k}`, now + 3_600_000, 'heavy-user')));
    }
    await revocation.revokeUser('heavy-user', now - 10_000);
    let largest = 0;
    for (const key of await admin.keys(`${RUN}size:s:*`)) largest = Math.max(largest, (await admin.strLen(key)) ?? 0);
    expect(largest).toBeLessThan(400);
    const before = counted.n();
    expect(await revocation.isRevoked({ id: 'jti-1234', userId: 'heavy-user', issuedAt: now })).toBe(true);
    expect(await revocation.isRevoked({ id: 'jti-fresh', userId: 'heavy-user', issuedAt: now })).toBe(false);
    expect(counted.n() - before).toBe(4);
  }, 30_000);

  it('SEC-37: 60 concurrent revocations of one user all land (none fails because others ran)', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}conc:` });
    const now = Date.now();
    const instances = Array.from({ length: 6 }, () => new Revocation({ store }));
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        i % 10 === 0 ? instances[i % 6]!.revokeUser('busy', now - 1000 + i) : instances[i % 6]!.revokeSession(`c-${i}`, now + 600_000, 'busy'),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const check = new Revocation({ store });
    for (let i = 0; i < 60; i++) if (i % 10 !== 0) expect(await check.isRevoked({ id: `c-${i}`, userId: 'busy', issuedAt: now })).toBe(true);
    // the latest cut-off wins: now - 1000 + 50
    expect(await check.isRevoked({ id: 'x', userId: 'busy', issuedAt: now - 951 })).toBe(true);
    expect(await check.isRevoked({ id: 'x', userId: 'busy', issuedAt: now - 950 })).toBe(false);
  }, 30_000);

  it('a deny record lives exactly as long as its credential and is pinned (no TTL; swept after)', async () => {
    const prefix = `${RUN}pin:`;
    const store = new RedisStore({ client: admin, prefix });
    const revocation = new Revocation({ store });
    const now = Date.now();
    await revocation.revokeSession('short', now + 60_000, 'u');
    const keys = await admin.keys(`${prefix}s:*`);
    expect(keys).toHaveLength(1);
    expect(await admin.pTTL(keys[0]!)).toBe(-1);
    expect(Number(await admin.zScore(store.expiryKey, keys[0]!.slice(prefix.length)))).toBe(now + 60_000);
    // cleanup() sweeps pinned records whose time has passed
    await store.cleanup(now + 60_001, 1000);
    expect(await admin.exists(keys[0]!)).toBe(0);
  });

  it('SEC-37: MemoryStore never evicts pinned revocation records to make room for sessions', async () => {
    const store = new MemoryStore({ maxEntries: 50 });
    const revocation = new Revocation({ store });
    const now = Date.now();
    await revocation.revokeSession('kept', now + 600_000, 'u1');
    await revocation.revokeUser('u2', now);
    for (let i = 0; i < 500; i++) await store.create(makeRecord(now, { userId: `fill-${i}` }));
    expect(await revocation.isRevoked({ id: 'kept', userId: 'u1', issuedAt: now })).toBe(true);
    expect(await revocation.isRevoked({ id: 'old', userId: 'u2', issuedAt: now - 1 })).toBe(true);
    expect(store.size).toBeLessThanOrEqual(52);
  });
});

describe('RedisStore.update enforces the absolute end (issue 21)', () => {
  it('SEC-11: update never sets expiresAt (or the key TTL) past absoluteExpiresAt', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}cap:` });
    const now = Date.now();
    const r = makeRecord(now, { expiresAt: now + 60_000, absoluteExpiresAt: now + 120_000 });
    expect(await store.create(r)).toBe(true);
    expect(await store.update({ ...r, version: 2, expiresAt: now + 999_999 }, 1, now)).toBe(true);
    expect((await store.get(r.id, now))!.expiresAt).toBe(now + 120_000);
    expect(Number(await admin.sendCommand(['PEXPIRETIME', store.sessionKey(r.id)]))).toBe(now + 120_000);
  });
});
