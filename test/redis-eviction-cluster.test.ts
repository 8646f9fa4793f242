/**
 * Issue 19 on Redis Cluster: eviction on every master (volatile-lru, 2 MB above each one's baseline) never brings back a
 * revoked or logged-out credential and never hides a session from "log out everywhere"; one
 * master switched to allkeys-lru makes a new store refuse to start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from 'redis';
import { RedisStore, type RedisStoreEvent } from '../src/stores/redis.js';
import { startCluster, cli, type RedisCluster } from './helpers/redis-server.js';
import { count, fill, prepare } from './helpers/eviction.js';

let cluster: RedisCluster;
let client: ReturnType<typeof createCluster>;
let masters: number[];

beforeAll(async () => {
  cluster = await startCluster();
  masters = await cluster.masters();
  // A cluster node's own baseline (slot map, replication backlog) is larger than a standalone
  // server's: 2 MB on top of what each master uses already.
  for (const port of masters) {
    const used = Number(/used_memory:(\d+)/.exec(await cli(port, 'INFO', 'memory'))![1]);
    await cli(port, 'CONFIG', 'SET', 'maxmemory', String(used + 2 * 1024 * 1024), 'maxmemory-policy', 'volatile-lru');
  }
  client = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${masters[0]}` }], defaults: { disableOfflineQueue: true } });
  client.on('error', () => {});
  await client.connect();
}, 60_000);
afterAll(async () => {
  await client?.destroy();
  await cluster?.stop();
});

async function statsOfAllMasters(): Promise<string> {
  let evicted = 0;
  for (const port of masters) evicted += Number(/evicted_keys:(\d+)/.exec(await cli(port, 'INFO', 'stats'))?.[1] ?? 0);
  return `evicted_keys:${evicted}`;
}

describe('issue 19: Redis Cluster with eviction on its masters', () => {
  it('volatile-lru on every master: no revoked or logged-out credential comes back, log out everywhere ends every session', async () => {
    const events: RedisStoreEvent[] = [];
    const store = new RedisStore({ client, prefix: 'evc:', commandTimeoutMs: 5000, onEvent: (e) => events.push(e) });
    await store.ready();
    expect(events.filter((e) => e.type === 'store.eviction_policy')).toHaveLength(masters.length);
    const sc = await prepare(store, 'cl');
    const f = await fill(store, statsOfAllMasters, 60_000, 200);
    expect(f.refusedWrite).toBeUndefined();
    expect(f.evicted).toBeGreaterThan(0);
    expect(await count(sc, store)).toEqual({ deniedAccepted: 0, cutAccepted: 0, survivedLogoutEverywhere: 0, loggedOutBack: 0 });
  }, 90_000);

  it('one master under allkeys-lru: refused with ERR_STORE_EVICTION_POLICY naming that node', async () => {
    await cli(masters[1]!, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    const store = new RedisStore({ client, prefix: 'evc2:' });
    await expect(store.ready()).rejects.toMatchObject({ code: 'ERR_STORE_EVICTION_POLICY', message: expect.stringContaining(String(masters[1])) });
  });
});
