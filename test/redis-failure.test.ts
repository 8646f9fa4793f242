/**
 * RedisStore when Redis goes away, once per supported client package (node-redis 5 and 6, ioredis
 * 5 and 6): every call rejects with StoreUnavailableError within a bounded time (fail closed, no
 * queueing forever), and the same store works again once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRecord } from '../src/testing/conformance.js';
import { RedisStore, type RedisStoreOptions } from '../src/stores/redis.js';
import { StoreUnavailableError } from '../src/errors.js';
import { cli, startRedis, type RedisProcess } from './helpers/redis-server.js';
import { EACH_REDIS_LIB, type RedisLib } from './helpers/redis-clients.js';

const TIMEOUT = 300;

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

async function subject(lib: RedisLib, extra: Partial<RedisStoreOptions> = {}): Promise<Subject> {
  const { client, close } = await lib.connect(server.port, { connectTimeoutMs: TIMEOUT });
  return { store: new RedisStore({ client, commandTimeoutMs: TIMEOUT, prefix: `fail:${lib.id}:`, ...extra }), close };
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

describe.each(EACH_REDIS_LIB)('RedisStore failure handling (%s)', (_name, lib) => {
  const make = (extra?: Partial<RedisStoreOptions>): Promise<Subject> => subject(lib, extra);
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
