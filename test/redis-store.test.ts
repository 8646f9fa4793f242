/**
 * RedisStore on standalone Redis: the conformance suite once per supported client package
 * (node-redis 5 and 6, ioredis 5 and 6; shared 127.0.0.1:6379, unique prefix per run), the
 * hot-path command count on each (own redis-server), TTLs on every key (SEC-19) and no raw token
 * at rest (SEC-21).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import * as redis6 from 'redis';
import * as redis5 from 'redis5';
import * as ioredis6 from 'ioredis';
import * as ioredis5 from 'ioredis5';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { RedisStore } from '../src/stores/redis.js';
import { sha256Sync } from '../src/crypto/node.js';
import { ConfigError } from '../src/errors.js';
import { SessionManager } from '../src/index.js';
import { cli, startRedis, type RedisProcess } from './helpers/redis-server.js';
import { REDIS_LIBS } from './helpers/redis-clients.js';

const URL = 'redis://127.0.0.1:6379';
const RUN = `swtest:${randomBytes(6).toString('hex')}:`;

// The admin connection reads and cleans up raw keys; it is typed by what createClient returns for
// these options (the bare `ReturnType<typeof createClient>` is the generic constraint, which a
// concrete client does not fit).
function adminClient() {
  return redis6.createClient({ url: URL, disableOfflineQueue: true, socket: { connectTimeout: 1000, reconnectStrategy: () => 100 } });
}
type NodeRedis = ReturnType<typeof adminClient>;

/** Every key under a prefix, via SCAN (fine in tests, never in the store). */
async function keysUnder(c: NodeRedis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) out.push(...batch);
  return out;
}

let admin: NodeRedis;
beforeAll(async () => {
  admin = adminClient();
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  const keys = await keysUnder(admin, RUN);
  for (let i = 0; i < keys.length; i += 500) await admin.del(keys.slice(i, i + 500));
  expect(await keysUnder(admin, RUN)).toEqual([]);
  await admin.quit();
});

for (const lib of REDIS_LIBS) {
  let n = 0;
  testSessionStore(`redis (${lib.name})`, async () => {
    const { client, close } = await lib.connect(6379);
    return { store: new RedisStore({ client, prefix: `${RUN}${lib.id}-${n++}:` }), cleanup: close };
  });
}

describe('RedisStore (standalone)', () => {
  it('takes every supported client major as is, and detects the library once, at construction', () => {
    // Never connected: construction only inspects the client. Passed without a cast on purpose,
    // so a client type that stops fitting the option fails the typecheck.
    const none = 'redis://127.0.0.1:1';
    const io6 = new ioredis6.Redis({ port: 1, lazyConnect: true });
    const io5 = new ioredis5.Redis({ port: 1, lazyConnect: true });
    const io6c = new ioredis6.Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const io5c = new ioredis5.Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(new RedisStore({ client: redis6.createClient({ url: none }) }).driver).toBe('node-redis');
    expect(new RedisStore({ client: redis5.createClient({ url: none }) }).driver).toBe('node-redis');
    expect(new RedisStore({ client: redis6.createCluster({ rootNodes: [{ url: none }] }) }).driver).toBe('node-redis-cluster');
    expect(new RedisStore({ client: redis5.createCluster({ rootNodes: [{ url: none }] }) }).driver).toBe('node-redis-cluster');
    expect(new RedisStore({ client: io6 }).driver).toBe('ioredis');
    expect(new RedisStore({ client: io5 }).driver).toBe('ioredis');
    expect(new RedisStore({ client: io6c }).driver).toBe('ioredis-cluster');
    expect(new RedisStore({ client: io5c }).driver).toBe('ioredis-cluster');
    for (const c of [io6, io5, io6c, io5c]) c.disconnect();
    // @ts-expect-error not a Redis client: refused by the type, and at run time for JavaScript callers
    expect(() => new RedisStore({ client: {} })).toThrow(ConfigError);
    expect(() => new RedisStore({ client: admin, waitForReplicas: { replicas: 1, timeoutMs: 0 } })).toThrow(ConfigError);
  });

  it('SEC-19: the session key has a TTL after create, update and touch; the user index is pinned and swept', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}ttl:` });
    const now = Date.now();
    const r = makeRecord(now, { userId: 'ttl-user', expiresAt: now + 60_000, absoluteExpiresAt: now + 120_000 });
    const check = async (maxSession: number, maxIndex: number): Promise<void> => {
      const keys = await keysUnder(admin, `${RUN}ttl:`);
      expect(keys.sort()).toEqual([store.sessionKey(r.id), store.userKey('ttl-user'), store.expiryKey].sort());
      const ps = await admin.pTTL(store.sessionKey(r.id));
      expect(ps).toBeGreaterThan(0);
      expect(ps).toBeLessThanOrEqual(maxSession - now);
      // the session TTL is exactly expiresAt
      expect(Number(await admin.sendCommand(['PEXPIRETIME', store.sessionKey(r.id)]))).toBe(maxSession);
      // The index has no TTL (no volatile-* eviction can drop it while its sessions live, issue
      // 19); the store's expiry sweep holds it until the highest absolute end.
      expect(await admin.pTTL(store.userKey('ttl-user'))).toBe(-1);
      expect(await admin.pTTL(store.expiryKey)).toBe(-1);
      expect(Number(await admin.zScore(store.expiryKey, 'u:ttl-user'))).toBe(maxIndex);
    };
    expect(await store.create(r)).toBe(true);
    await check(now + 60_000, now + 120_000);
    expect(await store.update({ ...r, data: { a: 1 }, version: 2, expiresAt: now + 90_000 }, 1, now)).toBe(true);
    await check(now + 90_000, now + 120_000);
    expect(await store.touch(r.id, now + 5, now + 100_000, now + 5)).toBe(true);
    await check(now + 100_000, now + 120_000);
    // touch is capped at the absolute end, and so is the TTL
    expect(await store.touch(r.id, now + 6, now + 999_999, now + 6)).toBe(true);
    await check(now + 120_000, now + 120_000);
  });

  it('SEC-21: no raw token appears in any key or value', async () => {
    const prefix = `${RUN}sec21:`;
    const store = new RedisStore({ client: admin, prefix });
    const now = Date.now();
    const tokens = Array.from({ length: 5 }, () => randomBytes(32).toString('base64url'));
    for (const [i, t] of tokens.entries()) {
      const id = sha256Sync(t);
      expect(id).not.toContain(t);
      await store.create(makeRecord(now, { id, userId: `user-${i % 2}`, data: { cart: [i] } }));
    }
    const next = makeRecord(now, { id: sha256Sync(tokens[0]! + 'x'), userId: 'user-0' });
    await store.create(next);
    await store.update({ ...makeRecord(now, { id: sha256Sync(tokens[0]!) }), version: 2, rotatedTo: next.id, userId: null }, 1, now);
    await store.touch(sha256Sync(tokens[1]!), now + 1, now + 700_000, now + 1);

    const dump: string[] = [];
    for (const k of await keysUnder(admin, prefix)) {
      dump.push(k);
      const type = await admin.type(k);
      if (type === 'string') dump.push(String(await admin.get(k)));
      else if (type === 'zset') dump.push(...(await admin.zRange(k, 0, -1)));
      else throw new Error(`unexpected key type ${type}`);
    }
    expect(dump.length).toBeGreaterThan(7);
    const all = dump.join('\n');
    for (const t of tokens) {
      expect(all).not.toContain(t);
      expect(all).toContain(sha256Sync(t));
    }
  });

  it('SEC-21: sessions made by the engine (login, rotation, update) leave no raw token in Redis', async () => {
    const prefix = `${RUN}sec21e:`;
    const manager = new SessionManager<{ n?: number }>({
      store: new RedisStore({ client: admin, prefix }),
      secrets: ['a secret of at least 32 bytes for the SEC-21 test'],
      cookie: { insecureDevelopmentCookies: true },
    });
    const cookies: string[] = [];
    const take = (headers: Array<[string, string]>): string => {
      const c = headers.find(([k]) => k === 'set-cookie')![1].split(';')[0]!;
      cookies.push(c.slice(c.indexOf('=') + 1));
      return c;
    };
    const s1 = await manager.load({ userAgent: 'test' });
    s1.set('n', 1);
    let cookie = take((await manager.commit(s1)).headers);
    const s2 = await manager.load({ cookie });
    await s2.login('sec21-user');
    cookie = take((await manager.commit(s2)).headers);
    const s3 = await manager.load({ cookie });
    await s3.update((d) => {
      d.n = 2;
    });
    await manager.commit(s3);
    expect((await manager.load({ cookie })).get('n')).toBe(2);

    const dump: string[] = [];
    for (const k of await keysUnder(admin, prefix)) {
      dump.push(k, (await admin.type(k)) === 'string' ? String(await admin.get(k)) : (await admin.zRange(k, 0, -1)).join(' '));
    }
    const all = dump.join('\n');
    expect(cookies).toHaveLength(2);
    for (const c of cookies) {
      const token = c.split('.')[0]!;
      expect(token).toHaveLength(43);
      expect(all).not.toContain(token);
      expect(all).toContain(sha256Sync(token));
    }
  });

  it('a fresh empty session takes <= 200 bytes (MEMORY USAGE)', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}mem:` });
    const r = makeRecord(Date.now(), { meta: {} });
    await store.create(r);
    const bytes = Number(await admin.sendCommand(['MEMORY', 'USAGE', store.sessionKey(r.id), 'SAMPLES', '0']));
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(200);
  });

  it('a corrupt record is a StoreError, never a crash or a valid session', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}bad:` });
    const r = makeRecord(Date.now());
    await admin.set(store.sessionKey(r.id), '1|garbage', { PX: 60_000 });
    await expect(store.get(r.id, Date.now())).rejects.toMatchObject({ code: 'ERR_STORE' });
  });
});

describe('RedisStore.cleanup (per-user index hygiene)', () => {
  /** Index entries (user -> ids) under a prefix, read straight from Redis. */
  async function indexes(prefix: string): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const k of await keysUnder(admin, `${prefix}u:`)) out[k.slice(prefix.length + 2)] = (await admin.zRange(k, 0, -1)).sort();
    return out;
  }

  it('removes entries past their absolute end and entries whose session is gone, and nothing else', async () => {
    const prefix = `${RUN}cl1:`;
    const store = new RedisStore({ client: admin, prefix, cleanupGraceMs: 0 });
    const now = Date.now();
    const live1 = makeRecord(now, { userId: 'u1' });
    const live2 = makeRecord(now, { userId: 'u1', absoluteExpiresAt: now + 7_200_000 });
    const ended = makeRecord(now, { userId: 'u1', absoluteExpiresAt: now + 60_000, expiresAt: now + 60_000 });
    const gone = makeRecord(now, { userId: 'u2' });
    const anon = makeRecord(now);
    for (const r of [live1, live2, ended, gone, anon]) expect(await store.create(r)).toBe(true);
    await admin.del(store.sessionKey(gone.id));

    // A `now` two minutes ahead: `ended` is past its absolute end (get() treats it as absent
    // too), the others are not. Its key still exists in Redis, so only the score can tell.
    const later = now + 120_000;
    expect(await store.cleanup(later, 1000)).toBe(2);
    expect(await indexes(prefix)).toEqual({ u1: [live1.id, live2.id].sort() });
    // u2's index emptied, so Redis dropped the key; sessions are never touched by cleanup
    expect(await admin.exists(store.userKey('u2'))).toBe(0);
    for (const r of [live1, live2, ended, anon]) expect(await admin.exists(store.sessionKey(r.id))).toBe(1);
    // the index is pinned: no TTL, swept after its highest score
    expect(await admin.pTTL(store.userKey('u1'))).toBe(-1);
    expect(Number(await admin.zScore(store.expiryKey, 'u:u1'))).toBe(now + 7_200_000);
    expect(await store.cleanup(later, 1000)).toBe(0);
    expect((await store.listByUser('u1', later)).map((r) => r.id).sort()).toEqual([live1.id, live2.id].sort());
  });

  it('removes at most `limit` per call, resumes its SCAN across calls, and returns less only when a pass ends', async () => {
    const prefix = `${RUN}cl2:`;
    const store = new RedisStore({ client: admin, prefix, cleanupGraceMs: 0 });
    const now = Date.now();
    const keep: string[] = [];
    let stale = 0;
    for (let u = 0; u < 12; u++) {
      const live = makeRecord(now, { userId: `user${u}` });
      await store.create(live);
      keep.push(live.id);
      for (let i = 0; i < (u % 4) + 1; i++) {
        const r = makeRecord(now, { userId: `user${u}` });
        await store.create(r);
        await admin.del(store.sessionKey(r.id));
        stale++;
      }
    }
    expect(stale).toBe(30);
    const results: number[] = [];
    for (;;) {
      const n = await store.cleanup(Date.now(), 4);
      results.push(n);
      if (n < 4) break;
    }
    expect(results.slice(0, -1).every((n) => n === 4)).toBe(true);
    expect(results.reduce((a, b) => a + b, 0)).toBe(30);
    expect(results).toHaveLength(8);
    expect(Object.values(await indexes(prefix)).flat().sort()).toEqual(keep.sort());
    expect(await store.cleanup(Date.now(), 4)).toBe(0);
  });

  it('SEC-38: an entry whose session key appears during the grace (a login in flight) is kept', async () => {
    const prefix = `${RUN}cl3:`;
    const plain = new RedisStore({ client: admin, prefix });
    const now = Date.now();
    const r = makeRecord(now, { userId: 'racer' });
    await plain.create(r);
    // Index written, session key not yet: the state between a create's two writes.
    const value = (await admin.get(plain.sessionKey(r.id)))!;
    await admin.del(plain.sessionKey(r.id));
    let landed = false;
    // The create's SET lands right after cleanup first saw the key missing.
    const hooked = {
      isReady: true,
      sendCommand: async (args: string[]): Promise<unknown> => {
        const reply = await admin.sendCommand(args);
        if (!landed && args[0] === 'EXISTS' && args[1] === plain.sessionKey(r.id) && Number(reply) === 0) {
          landed = true;
          await admin.sendCommand(['SET', args[1], value, 'PXAT', String(r.expiresAt)]);
        }
        return reply;
      },
    };
    const store = new RedisStore({ client: hooked, prefix, cleanupGraceMs: 10 });
    expect(await store.cleanup(Date.now(), 1000)).toBe(0);
    expect(landed).toBe(true);
    expect((await store.listByUser('racer', Date.now())).map((x) => x.id)).toEqual([r.id]);
    expect(await store.deleteByUser('racer')).toBe(1);
  });

  it('SEC-38: listing a user while a login is in flight keeps its index entry, so log-out-everywhere still finds it', async () => {
    const prefix = `${RUN}ls:`;
    const store = new RedisStore({ client: admin, prefix });
    const now = Date.now();
    const r = makeRecord(now, { userId: 'inflight' });
    await store.create(r);
    // Index written, session key not yet: the state between a create's two writes.
    const value = (await admin.get(store.sessionKey(r.id)))!;
    await admin.del(store.sessionKey(r.id));
    expect(await store.listByUser('inflight', now)).toEqual([]);
    // The create's SET lands after the listing.
    await admin.sendCommand(['SET', store.sessionKey(r.id), value, 'PXAT', String(r.expiresAt)]);
    expect(await store.deleteByUser('inflight')).toBe(1);
    expect(await store.get(r.id, now)).toBeNull();
  });

  it('glob characters in the prefix match only that prefix', async () => {
    const globbed = `${RUN}g*:`;
    const sibling = `${RUN}gX:`;
    const a = new RedisStore({ client: admin, prefix: globbed, cleanupGraceMs: 0 });
    const b = new RedisStore({ client: admin, prefix: sibling, cleanupGraceMs: 0 });
    const now = Date.now();
    const ra = makeRecord(now, { userId: 'u' });
    const rb = makeRecord(now, { userId: 'u' });
    await a.create(ra);
    await b.create(rb);
    await admin.del(a.sessionKey(ra.id));
    // Unescaped, `<run>g*:u:*` would also match b's index, and a would prune b's live entry.
    expect(await a.cleanup(Date.now(), 1000)).toBe(1);
    expect(await admin.zRange(b.userKey('u'), 0, -1)).toEqual([rb.id]);
    expect(await admin.exists(a.userKey('u'))).toBe(0);
  });

  it('rejects bad arguments and options with typed errors', async () => {
    const store = new RedisStore({ client: admin, prefix: `${RUN}cl4:` });
    await expect(store.cleanup(Number.NaN, 10)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    await expect(store.cleanup(Date.now(), 0)).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    expect(() => new RedisStore({ client: admin, cleanupGraceMs: -1 })).toThrow(ConfigError);
  });
});

describe('RedisStore hot path (own redis-server, INFO commandstats)', () => {
  let server: RedisProcess;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  async function calls(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const line of (await cli(server.port, 'INFO', 'commandstats')).split('\n')) {
      const m = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line.trim());
      if (m) out[m[1]!] = Number(m[2]);
    }
    return out;
  }
  function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
    delete out.info; // our own INFO calls
    return out;
  }

  for (const lib of REDIS_LIBS) {
    it(`${lib.name}: an authenticated read is exactly one GET and touch exactly one EVALSHA`, async () => {
      const { client, close } = await lib.connect(server.port);
      try {
        const store = new RedisStore({ client, prefix: `cc:${lib.id}:` });
        const now = Date.now();
        const r = makeRecord(now, { userId: 'u' });
        await store.create(r);
        await store.touch(r.id, now, now + 600_000, now); // loads the script once (NOSCRIPT -> EVAL)

        const before = await calls();
        for (let i = 0; i < 100; i++) expect(await store.get(r.id, now)).not.toBeNull();
        const reads = diff(before, await calls());
        expect(reads).toEqual({ get: 100 });

        const before2 = await calls();
        for (let i = 0; i < 100; i++) expect(await store.touch(r.id, now + i, now + 600_000 + i, now + i)).toBe(true);
        expect(diff(before2, await calls())).toEqual({ evalsha: 100, get: 100, set: 100 }); // get/set run inside the script

        // end to end: an authenticated request through the engine (load + commit, nothing changed)
        const manager = new SessionManager({ store, secrets: ['a secret of at least 32 bytes for the count test'] });
        const s0 = await manager.load({});
        await s0.login('counted-user');
        const cookie = (await manager.commit(s0)).headers.find(([k]) => k === 'set-cookie')![1].split(';')[0]!;
        const before3 = await calls();
        for (let i = 0; i < 100; i++) {
          const s = await manager.load({ cookie });
          expect(s.isNew).toBe(false);
          await manager.commit(s);
        }
        expect(diff(before3, await calls())).toEqual({ get: 100 });
      } finally {
        await close();
      }
    });

    it(`${lib.name}: on standalone Redis a signed-in create is one script (sweep entry, index entry, SET NX together) a data patch and a pinned create one script each`, async () => {
      const { client, command, close } = await lib.connect(server.port);
      try {
        const store = new RedisStore({ client, prefix: `cw:${lib.id}:` });
        const now = Date.now();
        // Load the scripts once (NOSCRIPT -> EVAL) so the counts below are the steady state.
        const warm = makeRecord(now, { userId: 'w' });
        await store.create(warm);
        await store.patch!(warm.id, { set: { a: 1 } }, { now, expiresAt: now + 600_000 });
        await store.create(makeRecord(now, { pinned: true }));
        const records = Array.from({ length: 50 }, (_, i) => makeRecord(now, { userId: `cw-${i % 5}` }));
        const before = await calls();
        for (const r of records) expect(await store.create(r)).toBe(true);
        expect(diff(before, await calls())).toEqual({ evalsha: 50, zadd: 100, zremrangebyscore: 50, persist: 50, set: 50 });
        for (const r of records.slice(0, 5)) expect((await store.listByUser(r.userId!, now)).map((x) => x.id)).toContain(r.id);
        // The index is registered for the sweep (it has no TTL, so nothing else would remove it).
        expect(Number(await command(['ZSCORE', store.expiryKey, 'u:cw-0']))).toBe(records[0]!.absoluteExpiresAt);

        const before2 = await calls();
        for (let i = 0; i < 50; i++) expect(await store.patch!(records[0]!.id, { set: { [`k${i}`]: i } }, { now, expiresAt: now + 600_000 })).not.toBeNull();
        expect(diff(before2, await calls())).toEqual({ evalsha: 50, get: 50, pttl: 50, set: 50 });

        // A pinned record (revocation state) and its sweep entry: one script too.
        const pinned = Array.from({ length: 10 }, () => makeRecord(now, { pinned: true, expiresAt: now + 60_000 }));
        const before3 = await calls();
        for (const r of pinned) expect(await store.create(r)).toBe(true);
        // A pinned write starts the background sweep at most once a second (redis-sweep.ts): on a
        // slow machine a second has passed since the warm-up's pinned create, and one sweep looks
        // for due entries (there are none). That read is the sweep's, not the creates'.
        const pinnedCalls = diff(before3, await calls());
        expect(pinnedCalls.zrangebyscore ?? 0).toBeLessThanOrEqual(1);
        delete pinnedCalls.zrangebyscore;
        expect(pinnedCalls).toEqual({ evalsha: 10, zadd: 10, get: 10, set: 10 });
        expect(Number(await command(['ZSCORE', store.expiryKey, `s:${pinned[0]!.id}`]))).toBe(now + 60_000);
        expect(Number(await command(['PTTL', store.sessionKey(pinned[0]!.id)]))).toBe(-1);
      } finally {
        await close();
      }
    });
  }
});
