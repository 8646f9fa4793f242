/**
 * The store conformance suite. Every store runs it against a real server:
 *
 * @example
 * import { testSessionStore } from 'sessionward/testing'
 * testSessionStore('redis', async () => ({ store: new RedisStore({ client }), cleanup: () => client.quit() }))
 *
 * It needs `vitest` (an optional peer dependency). Each case gets a fresh store from `factory`.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import type { SessionRecord, SessionStore } from '../stores/types.js';
import { newRecord, nextVersion } from '../lib/record.js';
import { patchCases } from './conformance-patch.js';

export interface StoreHarness {
  store: SessionStore;
  /** Called after each case. */
  cleanup?: () => Promise<void> | void;
}

export interface ConformanceOptions {
  /** Skip the 200-way concurrent compare-and-set case (never skip for a store you ship). */
  concurrency?: number;
}

function newId(): string {
  return createHash('sha256').update(randomBytes(32)).digest('base64url');
}

/** Build a live record for tests. */
export function makeRecord(now: number, over: Partial<SessionRecord> = {}): SessionRecord {
  return { ...newRecord({ id: newId(), now, absoluteExpiresAt: now + 3_600_000, expiresAt: now + 600_000, meta: { userAgent: 'conformance', ip: '127.0.0.1' } }), ...over };
}

export function testSessionStore(
  name: string,
  factory: () => Promise<StoreHarness> | StoreHarness,
  options: ConformanceOptions = {},
): void {
  const concurrency = options.concurrency ?? 200;
  describe(`SessionStore conformance: ${name}`, () => {
    let h: StoreHarness;
    let store: SessionStore;
    // Per case, so stores that also set a real TTL (Redis PEXPIREAT) see times close to the server's clock.
    let now = Date.now();

    beforeEach(async () => {
      now = Date.now();
      h = await factory();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup?.();
    });

    it('create then get round-trips every field', async () => {
      const r = makeRecord(now, { userId: 'u1', data: { a: 1, nested: { b: [1, 'x', null] } }, authTime: now - 5 });
      expect(await store.create(r)).toBe(true);
      const got = await store.get(r.id, now);
      expect(got).not.toBeNull();
      expect(got!.id).toBe(r.id);
      expect(got!.userId).toBe('u1');
      expect(got!.data).toEqual(r.data);
      expect(got!.version).toBe(1);
      expect(got!.createdAt).toBe(r.createdAt);
      expect(got!.lastSeenAt).toBe(r.lastSeenAt);
      expect(got!.authTime).toBe(r.authTime);
      expect(got!.absoluteExpiresAt).toBe(r.absoluteExpiresAt);
      expect(got!.expiresAt).toBe(r.expiresAt);
      expect(got!.meta).toEqual(r.meta);
      expect(got!.rotatedTo ?? null).toBeNull();
    });

    it('hostile strings in data and meta (NUL, lone surrogates, `?next=%00`) are kept exactly, through create, update and listByUser', async () => {
      // Valid JS strings and valid JSON: one store refusing them (PostgreSQL's jsonb) turns the
      // same request into a 500 on that store only. Every store keeps them as given.
      const hostile = {
        next: decodeURIComponent('/account%00'),
        nul: 'a\u0000b',
        'key\u0000': 'NUL in a key',
        high: 'x\ud800',
        low: '\udc00y',
        reversed: '\udc00\ud800',
        pair: '\ud83d\ude00',
        backslash: '\\u0000 is text here',
        nested: { list: ['\u0000', '\udfff', { '\ud800': 1 }] },
      };
      const meta = { userAgent: 'ua\u0000', ip: '127.0.0.1', label: '\ud800' };
      const user = `user-${newId().slice(0, 8)}`;
      const r = makeRecord(now, { userId: user, data: hostile, meta });
      expect(await store.create(r)).toBe(true);
      const got = (await store.get(r.id, now))!;
      expect(got.data).toEqual(hostile);
      expect(got.meta).toEqual(meta);
      const next = { ...hostile, more: '\u0000\ud800' };
      expect(await store.update({ ...got, data: next, version: 2 }, 1, now)).toBe(true);
      expect((await store.get(r.id, now))!.data).toEqual(next);
      const [listed] = await store.listByUser(user, now);
      expect(listed!.data).toEqual(next);
      expect(listed!.meta).toEqual(meta);
    });

    it('get of an unknown id is null', async () => {
      expect(await store.get(newId(), now)).toBeNull();
    });

    it('create never overwrites a live record', async () => {
      const r = makeRecord(now, { data: { first: true } });
      expect(await store.create(r)).toBe(true);
      expect(await store.create({ ...r, data: { second: true } })).toBe(false);
      expect((await store.get(r.id, now))!.data).toEqual({ first: true });
    });

    it('never returns an expired record (SEC-19)', async () => {
      const r = makeRecord(now, { expiresAt: now + 1000 });
      await store.create(r);
      expect(await store.get(r.id, now + 999)).not.toBeNull();
      expect(await store.get(r.id, now + 1000)).toBeNull();
      expect(await store.get(r.id, now + 5000)).toBeNull();
    });

    it('update is compare-and-set on version', async () => {
      const r = makeRecord(now, { data: { n: 0 } });
      await store.create(r);
      expect(await store.update({ ...r, data: { n: 1 }, version: 2 }, 1, now)).toBe(true);
      // stale writer loses
      expect(await store.update({ ...r, data: { n: 99 }, version: 2 }, 1, now)).toBe(false);
      const got = (await store.get(r.id, now))!;
      expect(got.data).toEqual({ n: 1 });
      expect(got.version).toBe(2);
    });

    it('update never resurrects a deleted session', async () => {
      const r = makeRecord(now);
      await store.create(r);
      await store.delete(r.id);
      expect(await store.update({ ...r, data: { x: 1 }, version: 2 }, 1, now)).toBe(false);
      expect(await store.get(r.id, now)).toBeNull();
    });

    it('update never moves expiresAt past absoluteExpiresAt (SEC-11), whatever the caller asks', async () => {
      const r = makeRecord(now, { absoluteExpiresAt: now + 50_000, expiresAt: now + 10_000 });
      await store.create(r);
      expect(await store.update({ ...r, version: 2, expiresAt: now + 10_000_000 }, 1, now)).toBe(true);
      expect((await store.get(r.id, now))!.expiresAt).toBe(now + 50_000);
      expect(await store.get(r.id, now + 50_000)).toBeNull();
    });

    it('update never revives an expired session', async () => {
      const r = makeRecord(now, { expiresAt: now + 1000 });
      await store.create(r);
      expect(await store.update({ ...r, version: 2, expiresAt: now + 100_000 }, 1, now + 2000)).toBe(false);
      expect(await store.get(r.id, now + 2000)).toBeNull();
    });

    it(`${concurrency} concurrent read-modify-write increments keep every update`, async () => {
      const r = makeRecord(now, { data: { n: 0 } });
      await store.create(r);
      const inc = async (): Promise<void> => {
        for (let attempt = 0; attempt < 10_000; attempt++) {
          const cur = await store.get(r.id, now);
          if (!cur) throw new Error('record vanished');
          const next = nextVersion(cur, { data: { n: (cur.data.n as number) + 1 } });
          if (await store.update(next, cur.version, now)) return;
        }
        throw new Error('too many CAS retries');
      };
      await Promise.all(Array.from({ length: concurrency }, inc));
      const got = (await store.get(r.id, now))!;
      expect(got.data.n).toBe(concurrency);
      expect(got.version).toBe(concurrency + 1);
    });

    it('touch moves activity without changing data or version', async () => {
      const r = makeRecord(now, { data: { k: 'v' } });
      await store.create(r);
      expect(await store.touch(r.id, now + 10, now + 700_000, now + 10)).toBe(true);
      const got = (await store.get(r.id, now + 10))!;
      expect(got.lastSeenAt).toBe(now + 10);
      expect(got.expiresAt).toBe(now + 700_000);
      expect(got.version).toBe(1);
      expect(got.data).toEqual({ k: 'v' });
    });

    it('touch never passes the absolute expiry', async () => {
      const r = makeRecord(now, { absoluteExpiresAt: now + 50_000, expiresAt: now + 10_000 });
      await store.create(r);
      await store.touch(r.id, now + 1, now + 10_000_000, now + 1);
      const got = (await store.get(r.id, now + 1))!;
      expect(got.expiresAt).toBeLessThanOrEqual(now + 50_000);
      expect(await store.get(r.id, now + 50_000)).toBeNull();
    });

    it('touch never revives an expired or deleted session (SEC-19)', async () => {
      const a = makeRecord(now, { expiresAt: now + 1000 });
      const b = makeRecord(now);
      await store.create(a);
      await store.create(b);
      expect(await store.touch(a.id, now + 2000, now + 600_000, now + 2000)).toBe(false);
      expect(await store.get(a.id, now + 2000)).toBeNull();
      await store.delete(b.id);
      expect(await store.touch(b.id, now + 1, now + 600_000, now + 1)).toBe(false);
      expect(await store.get(b.id, now + 1)).toBeNull();
    });

    it('touch never renews a rotation tombstone (its grace window stays short)', async () => {
      const r = makeRecord(now);
      await store.create(r);
      const next = makeRecord(now);
      await store.create(next);
      const tomb = { ...r, data: {}, version: 2, rotatedTo: next.id, expiresAt: now + 5000 };
      expect(await store.update(tomb, 1, now)).toBe(true);
      expect(await store.touch(r.id, now + 1, now + 600_000, now + 1)).toBe(false);
      expect((await store.get(r.id, now + 1))!.expiresAt).toBe(now + 5000);
      expect(await store.get(r.id, now + 5000)).toBeNull();
    });

    it('delete is idempotent', async () => {
      const r = makeRecord(now);
      await store.create(r);
      await store.delete(r.id);
      await store.delete(r.id);
      expect(await store.get(r.id, now)).toBeNull();
    });

    it('per-user index lists and deletes a user\'s sessions', async () => {
      const user = `user-${newId().slice(0, 8)}`;
      const a = makeRecord(now, { userId: user });
      const b = makeRecord(now, { userId: user });
      const c = makeRecord(now, { userId: user });
      const other = makeRecord(now, { userId: `${user}-other` });
      for (const r of [a, b, c, other]) await store.create(r);
      const listed = await store.listByUser(user, now);
      expect(listed.map((r) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
      expect(await store.deleteByUser(user, a.id)).toBe(2);
      expect(await store.get(b.id, now)).toBeNull();
      expect(await store.get(c.id, now)).toBeNull();
      expect(await store.get(a.id, now)).not.toBeNull();
      expect((await store.listByUser(user, now)).map((r) => r.id)).toEqual([a.id]);
      expect(await store.get(other.id, now)).not.toBeNull();
      expect(await store.deleteByUser(user)).toBe(1);
      expect(await store.listByUser(user, now)).toEqual([]);
    });

    it('per-user index follows a userId set by update and never lists expired sessions', async () => {
      const user = `user-${newId().slice(0, 8)}`;
      const r = makeRecord(now);
      await store.create(r);
      expect(await store.update({ ...r, userId: user, version: 2 }, 1, now)).toBe(true);
      expect((await store.listByUser(user, now)).map((x) => x.id)).toEqual([r.id]);
      const short = makeRecord(now, { userId: user, expiresAt: now + 1000 });
      await store.create(short);
      expect((await store.listByUser(user, now + 2000)).map((x) => x.id)).toEqual([r.id]);
    });

    it('a stale update fails and changes nothing, whether it keeps the owner or changes it', async () => {
      const user = `user-${newId().slice(0, 8)}`;
      const r = makeRecord(now, { userId: user, data: { n: 1 } });
      await store.create(r);
      const current = nextVersion(r, { data: { n: 2 } });
      expect(await store.update(current, r.version, now)).toBe(true);
      // Both built on version 1, which is gone: same owner, another owner, no owner.
      for (const userId of [user, `${user}-other`, null]) {
        expect(await store.update(nextVersion(r, { userId, data: { n: 99 } }), r.version, now)).toBe(false);
      }
      const got = (await store.get(r.id, now))!;
      expect(got).toMatchObject({ userId: user, version: current.version, data: { n: 2 } });
      expect((await store.listByUser(user, now)).map((x) => x.id)).toEqual([r.id]);
      expect(await store.listByUser(`${user}-other`, now)).toEqual([]);
    });

    it('rotation tombstones round-trip rotatedTo and are not listed', async () => {
      const user = `user-${newId().slice(0, 8)}`;
      const r = makeRecord(now, { userId: user });
      await store.create(r);
      const next = makeRecord(now, { userId: user });
      await store.create(next);
      const tomb = { ...r, userId: null, data: {}, version: 2, rotatedTo: next.id, expiresAt: now + 5000 };
      expect(await store.update(tomb, 1, now)).toBe(true);
      expect((await store.get(r.id, now))!.rotatedTo).toBe(next.id);
      expect((await store.listByUser(user, now)).map((x) => x.id)).toEqual([next.id]);
      expect(await store.get(r.id, now + 5000)).toBeNull();
    });

    it('SEC-38: a rotation pointer keeps its owner, is never listed, and deleteByUser ends it without counting it', async () => {
      const user = `user-${newId().slice(0, 8)}`;
      const r = makeRecord(now, { userId: user });
      const next = makeRecord(now, { userId: user });
      await store.create(r);
      await store.create(next);
      const tomb = { ...r, data: {}, version: 2, rotatedTo: next.id, expiresAt: now + 5000 };
      expect(await store.update(tomb, 1, now)).toBe(true);
      expect((await store.listByUser(user, now)).map((x) => x.id)).toEqual([next.id]);
      // "Log out my other devices" from the successor: the pointer to it must go too.
      expect(await store.deleteByUser(user, next.id)).toBe(0);
      expect(await store.get(r.id, now)).toBeNull();
      expect(await store.get(next.id, now)).not.toBeNull();
    });

    it('SEC-38: sessions created while deleteByUser runs stay listed, so the next deleteByUser ends them', async () => {
      const user = `user-${newId().slice(0, 8)}`;
      for (let round = 0; round < 20; round++) {
        const records = Array.from({ length: 5 }, () => makeRecord(now, { userId: user }));
        await Promise.all([...records.map((r) => store.create(r)), store.deleteByUser(user)]);
        const alive: string[] = [];
        for (const r of records) if (await store.get(r.id, now)) alive.push(r.id);
        const listed = (await store.listByUser(user, now)).map((x) => x.id);
        for (const id of alive) expect(listed).toContain(id);
        expect(await store.deleteByUser(user)).toBe(alive.length);
        for (const r of records) expect(await store.get(r.id, now)).toBeNull();
      }
    });

    it('SEC-37: a pinned record (revocation state) behaves like any other: insert-only, compare-and-set, gone at expiresAt', async () => {
      const r = makeRecord(now, { pinned: true, data: { validAfter: now }, expiresAt: now + 60_000, absoluteExpiresAt: now + 60_000 });
      expect(await store.create(r)).toBe(true);
      expect(await store.create({ ...r, data: {} })).toBe(false);
      expect((await store.get(r.id, now))!.data).toEqual({ validAfter: now });
      expect(await store.update({ ...r, version: 2, data: { validAfter: now + 1 } }, 1, now)).toBe(true);
      expect(await store.update({ ...r, version: 2, data: {} }, 1, now)).toBe(false);
      expect((await store.get(r.id, now + 59_999))!.data).toEqual({ validAfter: now + 1 });
      expect(await store.get(r.id, now + 60_000)).toBeNull();
      await store.delete(r.id);
      expect(await store.get(r.id, now)).toBeNull();
    });

    patchCases({ store: () => store, now: () => now }, concurrency);

    it('cleanup (when offered) removes only expired records', async () => {
      if (!store.cleanup) return expect(store.cleanup).toBeUndefined();
      const live = makeRecord(now);
      const dead = makeRecord(now, { expiresAt: now + 10 });
      await store.create(live);
      await store.create(dead);
      const removed = await store.cleanup(now + 1000, 1000);
      expect(removed).toBeGreaterThanOrEqual(0);
      expect(await store.get(live.id, now + 1000)).not.toBeNull();
      expect(await store.get(dead.id, now + 1000)).toBeNull();
    });
  });
}
