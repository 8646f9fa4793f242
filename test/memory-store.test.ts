import { describe, it, expect } from 'vitest';
import { testSessionStore, makeRecord } from '../src/testing/conformance.js';
import { MemoryStore } from '../src/stores/memory.js';

testSessionStore('memory', () => ({ store: new MemoryStore() }));

describe('MemoryStore bounds', () => {
  it('evicts the least recently used record past maxEntries', async () => {
    let now = Date.now();
    const store = new MemoryStore({ maxEntries: 3, clock: () => now });
    const [a, b, c, d] = [0, 1, 2, 3].map(() => makeRecord(now));
    await store.create(a!);
    await store.create(b!);
    await store.create(c!);
    now += 1500; // LRU order is refreshed at most once a second per entry
    await store.get(a!.id, now); // a becomes most recent
    await store.create(d!);
    expect(store.size).toBe(3);
    expect(await store.get(b!.id, now)).toBeNull();
    expect(await store.get(a!.id, now)).not.toBeNull();
  });

  it('drops expired entries during writes without a timer per session', async () => {
    let t = Date.now();
    const store = new MemoryStore({ clock: () => t, sweepBatch: 100 });
    for (let i = 0; i < 50; i++) await store.create(makeRecord(t, { expiresAt: t + 10 }));
    t += 1000;
    await store.create(makeRecord(t));
    expect(store.size).toBe(1);
  });

  it('returns copies: mutating a returned record does not change the store', async () => {
    const store = new MemoryStore();
    const now = Date.now();
    const r = makeRecord(now, { data: { a: 1 } });
    await store.create(r);
    const got = (await store.get(r.id, now))!;
    got.data.a = 2;
    expect((await store.get(r.id, now))!.data.a).toBe(1);
  });
});
