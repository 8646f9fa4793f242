/**
 * A commit whose only change is data keys goes to the store as one atomic patch (issue 22): a
 * user's parallel requests writing different keys of one session cost one store call each — no
 * compare-and-set, no re-read, no backoff — and lose nothing. Same-key conflicts keep their
 * meaning (onConflict), through the compare-and-set path the manager falls back to.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { createClient } from 'redis';
import { SessionManager, MemoryStore, SessionConflictError, type SessionStore } from '../src/index.js';
import { RedisStore } from '../src/stores/redis.js';
import { SECRET, nextCookie } from './helpers/core.js';

const client = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true });
client.on('error', () => undefined);
const ready = client.connect();
afterAll(async () => {
  await client.quit().catch(() => undefined);
});

/** Counts the calls the manager makes on a real store. */
function counting(inner: SessionStore): { store: SessionStore; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls };
}

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['memory', async () => new MemoryStore()],
  ['redis', async () => (await ready, new RedisStore({ client, prefix: `patch-${Date.now()}-${Math.random().toString(36).slice(2)}:` }))],
];

describe.each(stores)('commits that change only data keys (%s)', (_name, make) => {
  it('32 parallel requests writing different keys of one session: one patch each, no compare-and-set, nothing lost', async () => {
    const { store, calls } = counting(await make());
    const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET] });
    const s0 = await manager.load({});
    s0.set('shared', 'x');
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const loaded = await Promise.all(Array.from({ length: 32 }, () => manager.load({ cookie })));
    for (const k of Object.keys(calls)) calls[k] = 0;
    await Promise.all(
      loaded.map(async (s, i) => {
        s.set(`k${i}`, i);
        await manager.commit(s);
      }),
    );
    expect(calls.patch).toBe(32);
    expect(calls.update ?? 0).toBe(0);
    expect(calls.get ?? 0).toBe(0);
    const after = await manager.load({ cookie });
    for (let i = 0; i < 32; i++) expect(after.get(`k${i}`)).toBe(i);
    expect(after.get('shared')).toBe('x');
    // Each request's view holds what the store wrote, so a second commit writes nothing.
    const before = calls.patch;
    await manager.commit(loaded[0]!);
    expect(calls.patch).toBe(before);
  });

  it('two requests changing the same key: the second is a conflict (409) under the default, and last-write-wins when asked', async () => {
    const made = await make();
    const strict = new SessionManager<Record<string, unknown>>({ store: made, secrets: [SECRET] });
    const s0 = await strict.load({});
    s0.set('n', 1);
    const cookie = nextCookie((await strict.commit(s0)).headers);
    const [a, b] = await Promise.all([strict.load({ cookie }), strict.load({ cookie })]);
    a!.set('n', 2);
    b!.set('n', 3);
    b!.set('other', true);
    await strict.commit(a!);
    await expect(strict.commit(b!)).rejects.toBeInstanceOf(SessionConflictError);
    const kept = await strict.load({ cookie });
    expect(kept.get('n')).toBe(2);
    expect(kept.get('other')).toBeUndefined();

    const lww = new SessionManager<Record<string, unknown>>({ store: made, secrets: [SECRET], onConflict: 'last-write-wins' });
    const [c, d] = await Promise.all([lww.load({ cookie }), lww.load({ cookie })]);
    c!.set('n', 4);
    d!.set('n', 5);
    d!.delete('other');
    await lww.commit(c!);
    await lww.commit(d!);
    expect((await lww.load({ cookie })).get('n')).toBe(5);
  });

  it('a data write racing a logout resurrects nothing', async () => {
    const store = await make();
    const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET] });
    const s0 = await manager.load({});
    s0.set('a', 1);
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const [w, l] = await Promise.all([manager.load({ cookie }), manager.load({ cookie })]);
    await l!.destroy();
    await manager.commit(l!);
    w!.set('a', 2);
    await manager.commit(w!);
    expect((await manager.load({ cookie })).isNew).toBe(true);
    expect(await store.get(w!.record?.id ?? '', Date.now())).toBeNull();
  });
});
