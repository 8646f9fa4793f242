/**
 * RedisStore on a real 3-master + 3-replica Redis Cluster this file starts itself: the
 * conformance suite on both clients, TTLs in cluster mode, and a kill -9 failover under durable
 * load (WAIT) that must lose none of the acknowledged sessions.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createCluster } from 'redis';
import { Cluster } from 'ioredis';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { RedisStore } from '../src/stores/redis.js';
import { keySlot } from '../src/stores/redis-driver.js';
import { cli, startCluster, type RedisCluster } from './helpers/redis-server.js';
import type { SessionRecord } from '../src/stores/types.js';

// Started at collection time, before the conformance suite captures its `now`: the suite's
// clock must not lag behind Redis' own clock by the seconds a cluster takes to form.
const cluster: RedisCluster = await startCluster();
afterAll(async () => {
  await cluster.stop();
});

function ioCluster(): Cluster {
  return new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], {
    enableOfflineQueue: true,
    slotsRefreshInterval: 500,
    slotsRefreshTimeout: 1000,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    clusterRetryStrategy: () => 100,
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 500 },
  });
}

async function nrCluster() {
  const c = createCluster({
    rootNodes: [{ url: `redis://127.0.0.1:${cluster.nodes[0]!.port}` }],
    defaults: { disableOfflineQueue: true, socket: { connectTimeout: 1000, reconnectStrategy: () => 100 } },
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

let n = 0;
testSessionStore('redis cluster (ioredis)', async () => {
  const client = ioCluster();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  return { store: new RedisStore({ client, prefix: `io${n++}:` }), cleanup: () => void client.disconnect() };
});

describe('RedisStore on a cluster', () => {
  it('node-redis cluster: 200 concurrent CAS increments keep every update; index and TTL work', async () => {
    const client = await nrCluster();
    try {
      const store = new RedisStore({ client, prefix: 'nrcas:' });
      const now = Date.now();
      const r = makeRecord(now, { userId: 'nr-user', data: { n: 0 } });
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
      expect((await store.listByUser('nr-user', now)).map((x) => x.id)).toEqual([r.id]);
      expect(await store.touch(r.id, now + 1, now + 10_000, now + 1)).toBe(true);
      expect(await store.deleteByUser('nr-user')).toBe(1);
      expect(await store.get(r.id, now)).toBeNull();
    } finally {
      await client.close();
    }
  });

  it('SEC-19: session and index keys have a TTL on their owning node, in cluster mode too', async () => {
    const client = await nrCluster();
    try {
      const store = new RedisStore({ client, prefix: 'ttl:' });
      const now = Date.now();
      const r = makeRecord(now, { userId: 'cluster-user', expiresAt: now + 60_000, absoluteExpiresAt: now + 120_000 });
      await store.create(r);
      await store.touch(r.id, now + 1, now + 70_000, now + 1);
      for (const [key, at] of [[store.sessionKey(r.id), now + 70_000], [store.userKey('cluster-user'), now + 120_000]] as const) {
        const pttl = Number(await client.sendCommand(key, true, ['PTTL', key]));
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(at - now);
      }
      // the two keys really are on different slots: the design must not rely on one node
      expect(keySlot(store.sessionKey(r.id))).not.toBe(keySlot(store.userKey('cluster-user')));
      expect(Number(await client.sendCommand(store.sessionKey(r.id), true, ['CLUSTER', 'KEYSLOT', store.sessionKey(r.id)]))).toBe(
        keySlot(store.sessionKey(r.id)),
      );
    } finally {
      await client.close();
    }
  });

  it('node-redis cluster, durable mode: WAIT goes to the key\'s master and is acknowledged', async () => {
    const client = await nrCluster();
    try {
      const store = new RedisStore({ client, prefix: 'nrdur:', waitForReplicas: { replicas: 1, timeoutMs: 500 } });
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
    } finally {
      await client.close();
    }
  });

  it('a cluster prefix with a hash tag is refused at construction', async () => {
    const client = await nrCluster();
    try {
      expect(() => new RedisStore({ client, prefix: '{sw}:' })).toThrow(/hash tag/);
    } finally {
      await client.close();
    }
  });

  it('durable mode: kill -9 of a master under load loses 0 of 10,000 acknowledged sessions', async () => {
    const client = ioCluster();
    await new Promise<void>((resolve) => client.once('ready', resolve));
    const store = new RedisStore({ client, prefix: 'durable:', commandTimeoutMs: 1000, waitForReplicas: { replicas: 1, timeoutMs: 200 } });
    const mastersBefore = await cluster.masters();
    expect(mastersBefore).toHaveLength(3);
    const victim = cluster.nodes.find((x) => x.port === mastersBefore[0])!;

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
    // the victim's replica really took over: some sessions live on the promoted node
    const promoted = mastersAfter.find((p) => !mastersBefore.includes(p))!;
    expect(Number(await cli(promoted, 'DBSIZE'))).toBeGreaterThan(0);
    client.disconnect();
    console.log(`failover: ${failures} unacknowledged attempts retried, 0 of ${TOTAL} acknowledged lost`);
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
