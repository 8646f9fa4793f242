/**
 * RedisStore when Redis goes away: every call rejects with StoreUnavailableError within a bounded
 * time (fail closed, no queueing forever), and the same store works again once Redis is back.
 *
 * Also hosts the ioredis run of the conformance suite on the shared 127.0.0.1:6379 (first in its
 * file, see redis-store.test.ts for why).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { Redis } from 'ioredis';
import { makeRecord, testSessionStore } from '../src/testing/conformance.js';
import { randomBytes } from 'node:crypto';
import { RedisStore, type RedisStoreOptions } from '../src/stores/redis.js';
import { StoreUnavailableError } from '../src/errors.js';
import { cli, startRedis, type RedisProcess } from './helpers/redis-server.js';

const TIMEOUT = 300;
const RUN = `swtest:${randomBytes(6).toString('hex')}:`;

let n = 0;
testSessionStore('redis (ioredis)', async () => {
  const client = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1, connectTimeout: 1000 });
  await client.ping();
  return { store: new RedisStore({ client, prefix: `${RUN}io${n++}:` }), cleanup: async () => void (await client.quit()) };
});

afterAll(async () => {
  // SCAN is fine in a test (never in the store): remove this run's keys from the shared Redis.
  const admin = new Redis({ host: '127.0.0.1', port: 6379 });
  const scan = async (): Promise<string[]> => {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${RUN}*`, 'COUNT', 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return out;
  };
  const keys = await scan();
  if (keys.length) await admin.del(...keys);
  expect(await scan()).toEqual([]);
  await admin.quit();
});

let server: RedisProcess;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

interface Subject {
  store: RedisStore;
  close(): Promise<void>;
}

async function nodeRedisSubject(extra: Partial<RedisStoreOptions> = {}): Promise<Subject> {
  const client = createClient({
    url: `redis://127.0.0.1:${server.port}`,
    disableOfflineQueue: true,
    socket: { connectTimeout: TIMEOUT, reconnectStrategy: () => 100 },
  });
  client.on('error', () => {});
  await client.connect();
  return { store: new RedisStore({ client, commandTimeoutMs: TIMEOUT, prefix: 'fail:nr:', ...extra }), close: async () => void client.destroy() };
}

async function ioredisSubject(extra: Partial<RedisStoreOptions> = {}): Promise<Subject> {
  const client = new Redis({
    host: '127.0.0.1',
    port: server.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: TIMEOUT,
    retryStrategy: () => 100,
    lazyConnect: true,
  });
  client.on('error', () => {});
  await client.connect();
  return { store: new RedisStore({ client, commandTimeoutMs: TIMEOUT, prefix: 'fail:io:', ...extra }), close: async () => void client.disconnect() };
}

/** Every public method once; each must reject with StoreUnavailableError, and quickly. */
async function expectAllUnavailable(store: RedisStore): Promise<void> {
  const now = Date.now();
  const r = makeRecord(now, { userId: 'u' });
  const calls: Array<() => Promise<unknown>> = [
    () => store.get(r.id, now),
    () => store.create(r),
    () => store.update({ ...r, version: 2 }, 1, now),
    () => store.touch(r.id, now, now + 1000, now),
    () => store.delete(r.id),
    () => store.listByUser('u', now),
    () => store.deleteByUser('u'),
  ];
  for (const call of calls) {
    const t0 = performance.now();
    const err = await call().then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - t0;
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).code).toBe('ERR_STORE_UNAVAILABLE');
    // bounded, not a benchmark: never more than twice the configured command timeout
    expect(elapsed).toBeLessThan(2 * TIMEOUT);
  }
}

async function eventually(fn: () => Promise<unknown>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await fn();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.each([
  ['node-redis', nodeRedisSubject],
  ['ioredis', ioredisSubject],
] as const)('RedisStore failure handling (%s)', (_name, make) => {
  it('Redis killed: every call rejects with StoreUnavailableError in bounded time; restarted: the same store recovers', async () => {
    const { store, close } = await make();
    try {
      const now = Date.now();
      const before = makeRecord(now, { userId: 'survivor' });
      expect(await store.create(before)).toBe(true);
      expect(await store.get(before.id, now)).not.toBeNull();

      await server.kill9();
      await expectAllUnavailable(store);
      await expectAllUnavailable(store); // still failing fast on a second round, not queueing

      await server.restart(); // same port; data is gone (no persistence), the connection comes back by itself
      await eventually(() => store.get(before.id, Date.now()));
      const after = makeRecord(Date.now(), { userId: 'survivor' });
      expect(await store.create(after)).toBe(true);
      expect((await store.get(after.id, Date.now()))!.id).toBe(after.id);
      expect((await store.listByUser('survivor', Date.now())).map((x) => x.id)).toEqual([after.id]);
    } finally {
      await close();
    }
  });

  it('Redis alive but not answering (CLIENT PAUSE): calls time out with StoreUnavailableError', async () => {
    const { store, close } = await make();
    try {
      const r = makeRecord(Date.now());
      await store.create(r);
      await cli(server.port, 'CLIENT', 'PAUSE', String(TIMEOUT * 4), 'ALL');
      const t0 = performance.now();
      await expect(store.get(r.id, Date.now())).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(performance.now() - t0).toBeLessThan(2 * TIMEOUT);
      await eventually(() => store.get(r.id, Date.now()));
      expect(await store.get(r.id, Date.now())).not.toBeNull();
    } finally {
      await close();
    }
  });

  it('durable mode without a replica: the write is refused (WAIT got 0 acks), fail closed', async () => {
    const { store, close } = await make({ waitForReplicas: { replicas: 1, timeoutMs: 20 } });
    try {
      await expect(store.create(makeRecord(Date.now()))).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      await close();
    }
  });
});
