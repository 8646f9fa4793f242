/**
 * RedisStore on a real 3-master + 3-replica Redis Cluster this file starts itself (once), on the
 * cluster client of every supported package (node-redis 5 and 6, ioredis 5 and 6): the
 * conformance suite, CAS under contention, TTLs in cluster mode, WAIT routed to the key's master,
 * and a kill -9 failover under durable load (WAIT) that must lose none of the acknowledged
 * sessions.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { RedisStore } from '../src/stores/redis.js';
import { keySlot } from '../src/stores/redis-driver.js';
import { cli, startCluster, waitReplicasOnline, type RedisCluster } from './helpers/redis-server.js';
import { EACH_REDIS_LIB, REDIS_LIBS, type Connected, type RedisLib } from './helpers/redis-clients.js';
import type { SessionRecord } from '../src/stores/types.js';

// Started at collection time, before the conformance suite captures its `now`: the suite's
// clock must not lag behind Redis' own clock by the seconds a cluster takes to form.
const cluster: RedisCluster = await startCluster();
afterAll(async () => {
  await cluster.stop();
});

// Every node is up outside a failover case (each one waits for its victim to restart), so the
// first node is a safe entry point.
function connect(lib: RedisLib): Promise<Connected> {
  return lib.connectCluster(cluster.nodes[0]!.port);
}

async function withClient(lib: RedisLib, fn: (c: Connected) => Promise<void>): Promise<void> {
  const c = await connect(lib);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

for (const lib of REDIS_LIBS) {
  let n = 0;
  testSessionStore(`redis cluster (${lib.name})`, async () => {
    const { client, close } = await connect(lib);
    return { store: new RedisStore({ client, prefix: `${lib.id}-${n++}:` }), cleanup: close };
  });
}

describe.each(EACH_REDIS_LIB)('RedisStore on a cluster (%s)', (_name, lib) => {
  // 200 writers that all conflict: about 200 × 200 / 2 reads and CAS writes, under a second on a
  // quiet machine, 10 s and more on a loaded one; hence its own timeout, and a command timeout
  // that a starved event loop cannot overshoot (a timed-out CAS would fail the test as an error).
  it('200 concurrent CAS increments keep every update; index and TTL work', () =>
    withClient(lib, async ({ client }) => {
      const store = new RedisStore({ client, prefix: `${lib.id}cas:`, commandTimeoutMs: 10_000 });
      const now = Date.now();
      const r = makeRecord(now, { userId: 'cas-user', data: { n: 0 } });
      expect(await store.create(r)).toBe(true);
      const inc = async (): Promise<void> => {
        for (;;) {
          const cur = (await store.get(r.id, now))!;
          if (await store.update({ ...cur, data: { n: (cur.data.n as number) + 1 }, version: cur.version + 1 }, cur.version, now)) return;
        }
      };
      await Promise.all(Array.from({ length: 200 }, inc));
      const got = (await store.get(r.id, now))!;
      expect(got.data.n).toBe(200);
      expect(got.version).toBe(201);
      expect((await store.listByUser('cas-user', now)).map((x) => x.id)).toEqual([r.id]);
      // The touch sets Redis' own TTL (PXAT), so it is taken from the clock after the contended
      // phase: `now + 10 s` from the start had passed on a loaded machine, Redis expired the key
      // at once and deleteByUser found nothing.
      const later = Date.now();
      expect(await store.touch(r.id, later, later + 60_000, later)).toBe(true);
      expect(await store.deleteByUser('cas-user')).toBe(1);
      expect(await store.get(r.id, later)).toBeNull();
    }), 120_000);

  it('SEC-19: the session key has a TTL and the user index is pinned and scheduled for the sweep, on their owning nodes in cluster mode too', () =>
    withClient(lib, async ({ client, command }) => {
      const store = new RedisStore({ client, prefix: `${lib.id}ttl:` });
      const now = Date.now();
      const r = makeRecord(now, { userId: 'cluster-user', expiresAt: now + 60_000, absoluteExpiresAt: now + 120_000 });
      await store.create(r);
      await store.touch(r.id, now + 1, now + 70_000, now + 1);
      const pttl = Number(await command(['PTTL', store.sessionKey(r.id)]));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(70_000);
      // The index has no TTL, so no volatile-* policy can evict it while its sessions live (issue
      // 19); the store's expiry schedule holds its end, on whichever node owns that key.
      expect(Number(await command(['PTTL', store.userKey('cluster-user')]))).toBe(-1);
      expect(Number(await command(['ZSCORE', store.expiryKey, 'u:cluster-user']))).toBe(now + 120_000);
      // the two keys really are on different slots: the design must not rely on one node
      expect(keySlot(store.sessionKey(r.id))).not.toBe(keySlot(store.userKey('cluster-user')));
      const port = cluster.nodes[0]!.port;
      expect(Number(await cli(port, 'CLUSTER', 'KEYSLOT', store.sessionKey(r.id)))).toBe(keySlot(store.sessionKey(r.id)));
    }));

  it("durable mode: WAIT goes to the key's master and is acknowledged", async () => {
    // A failover test before this one leaves a restarted node that must finish its sync first.
    await cluster.waitOk(30_000);
    await waitReplicasOnline(await cluster.masters());
    await withClient(lib, async ({ client }) => {
      const store = new RedisStore({ client, prefix: `${lib.id}dur:`, waitForReplicas: { replicas: 1, timeoutMs: 500 } });
      const now = Date.now();
      for (let i = 0; i < 20; i++) {
        const r = makeRecord(now, { userId: `dur-${i}` });
        expect(await store.create(r)).toBe(true);
        const next = makeRecord(now, { userId: `dur-${i}` });
        expect(await store.create(next)).toBe(true);
        expect(await store.update({ ...r, userId: null, data: {}, version: 2, rotatedTo: next.id }, 1, now)).toBe(true);
        await store.delete(next.id);
        expect(await store.get(next.id, now)).toBeNull();
      }
    });
  });

  it('a cluster prefix with a hash tag is refused at construction', () =>
    withClient(lib, async ({ client }) => {
      expect(() => new RedisStore({ client, prefix: '{sw}:' })).toThrow(/hash tag/);
    }));
});

// Last in the file: each run kills a master, so the topology differs from what the cases above
// start from. Each run picks the current first master and waits until the previous run's victim
// has rejoined and synced as a replica.
describe.each(EACH_REDIS_LIB)('RedisStore cluster failover (%s)', (_name, lib) => {
  it('durable mode: kill -9 of a master under load loses 0 of 10,000 acknowledged sessions', async () => {
    await cluster.waitOk(30_000);
    const mastersBefore = await cluster.masters();
    expect(mastersBefore).toHaveLength(3);
    await waitReplicasOnline(mastersBefore);
    const victim = cluster.nodes.find((x) => x.port === mastersBefore[0])!;
    // Entry point: any node but the victim, so the initial connect cannot race the kill.
    const entry = cluster.nodes.find((x) => x !== victim)!;
    const { client, close } = await lib.connectCluster(entry.port);
    const store = new RedisStore({ client, prefix: `${lib.id}durable:`, commandTimeoutMs: 1000, waitForReplicas: { replicas: 1, timeoutMs: 200 } });

    const acked: SessionRecord[] = [];
    let failures = 0;
    let killed = false;
    let recovered: Promise<void> = Promise.resolve();
    const now = Date.now();
    const TOTAL = 10_000;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        next++;
        for (;;) {
          const r = makeRecord(now, { userId: `u${next % 100}`, data: { i: next } });
          try {
            if (await store.create(r)) {
              acked.push(r);
              break;
            }
          } catch {
            failures++; // not acknowledged: retry with a fresh session, as a client would
            await new Promise((res) => setTimeout(res, 50));
          }
        }
        if (!killed && acked.length >= 3000) {
          killed = true;
          await victim.kill9();
          // Its replica takes over; then the old master comes back as the new master's replica,
          // so that shard can acknowledge durable writes (WAIT 1) again.
          recovered = cluster.waitOk(30_000).then(() => victim.restart());
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: 100 }, worker));
      await recovered;
      expect(killed).toBe(true);
      expect(acked.length).toBe(TOTAL);

      await cluster.waitOk(30_000);
      const mastersAfter = await cluster.masters();
      expect(mastersAfter).not.toContain(victim.port);
      expect(failures).toBeGreaterThan(0); // the kill really hit acknowledged-write traffic
      expect(mastersAfter).toHaveLength(3);

      let lost = 0;
      for (let i = 0; i < acked.length; i += 500) {
        const got = await Promise.all(acked.slice(i, i + 500).map((r) => retry(() => store.get(r.id, now))));
        lost += got.filter((g) => g === null).length;
      }
      expect(lost).toBe(0);
      // the victim's replica really took over: this run's sessions live on the promoted node too
      const promoted = mastersAfter.find((p) => !mastersBefore.includes(p))!;
      expect(Number(await cli(promoted, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${lib.id}durable:*`))).toBeGreaterThan(0);
      console.log(`failover (${lib.name}): ${failures} unacknowledged attempts retried, 0 of ${TOTAL} acknowledged lost`);
    } finally {
      await close();
    }
  }, 90_000);
});

async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
