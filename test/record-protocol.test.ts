/**
 * The record protocol on its own (src/core/record-protocol.ts): records in, records out, against a
 * real MemoryStore with a frozen clock. The manager-level behaviour is covered by lifecycle*,
 * rotation and concurrency; these pin the protocol's own contract so it can change without them.
 */
import { describe, it, expect } from 'vitest';
import { MemoryStore, SessionConflictError, SessionDestroyedError } from '../src/index.js';
import { newRecord, nextVersion } from '../src/lib/record.js';
import { casRetry, RETRY } from '../src/lib/backoff.js';
import * as protocol from '../src/core/record-protocol.js';
import { DELETED } from '../src/core/changes.js';
import type { SessionRecord, SessionStore } from '../src/stores/types.js';
import { FakeClock } from './helpers/core.js';

function world(over: Partial<protocol.ProtocolOptions> = {}) {
  const clock = new FakeClock();
  const store = new MemoryStore({ clock: clock.now });
  const o: protocol.ProtocolOptions = {
    store,
    clock: clock.now,
    idleTimeout: 60_000,
    absoluteTimeout: 3_600_000,
    rotationGrace: 5_000,
    onConflict: 'error',
    ...over,
  };
  return { clock, store: o.store, o };
}

let n = 0;
async function live(store: SessionStore, now: number, over: Partial<SessionRecord> = {}): Promise<SessionRecord> {
  const r = { ...newRecord({ id: `id-${++n}`, now, userId: 'alice', data: { a: 1 }, expiresAt: now + 60_000, absoluteExpiresAt: now + 3_600_000 }), ...over };
  expect(await store.create(r)).toBe(true);
  return r;
}

describe('one record factory (src/lib/record.ts)', () => {
  it('newRecord gives version 1, no owner, no pointer, and pins only revocation state', () => {
    const r = newRecord({ id: 'x', now: 1000, expiresAt: 5000 });
    expect(r).toEqual({ id: 'x', userId: null, data: {}, version: 1, createdAt: 1000, lastSeenAt: 1000, authTime: null, absoluteExpiresAt: 5000, expiresAt: 5000, meta: {}, rotatedTo: null });
    expect('pinned' in r).toBe(false);
    expect(newRecord({ id: 'y', now: 1000, expiresAt: 5000, pinned: true }).pinned).toBe(true);
  });

  it('nextVersion moves the version one up, applies the change and never shares meta with its source', () => {
    const r = newRecord({ id: 'x', now: 1000, expiresAt: 5000, meta: { ip: '1.2.3.4' }, userId: 'u' });
    const next = nextVersion(r, { data: { k: 1 }, userId: null, lastSeenAt: 2000 });
    expect(next).toMatchObject({ id: 'x', version: 2, data: { k: 1 }, userId: null, lastSeenAt: 2000, createdAt: 1000, expiresAt: 5000 });
    next.meta.ip = 'changed';
    expect(r.meta.ip).toBe('1.2.3.4');
    expect(nextVersion({ ...r, pinned: true }, {}).pinned).toBe(true);
  });
});

describe('casRetry: the one compare-and-set retry loop', () => {
  it('runs rounds until one wins, and gives the exhausted result after exactly `attempts` lost rounds', async () => {
    let rounds = 0;
    expect(await casRetry(async (a) => (++rounds, a < 2 ? RETRY : 'won'), { exhausted: () => 'lost' })).toBe('won');
    expect(rounds).toBe(3);
    rounds = 0;
    expect(await casRetry(async () => (++rounds, RETRY), { attempts: 4, wait: false, exhausted: () => 'lost' })).toBe('lost');
    expect(rounds).toBe(4);
    await expect(casRetry(async () => RETRY, { attempts: 2, exhausted: () => { throw new SessionConflictError(); } })).rejects.toBeInstanceOf(SessionConflictError);
  });
});

describe('record protocol', () => {
  it('retire: a live record becomes a pointer that keeps its owner and says what kind of rotation made it', async () => {
    const { store, o, clock } = world();
    const old = await live(store, clock.t);
    const replaced = await protocol.retire(o, old, 'successor', 'renewal');
    expect(replaced).toMatchObject({ id: old.id, version: 1 });
    const p = (await store.get(old.id, clock.t))!;
    expect(p).toMatchObject({ rotatedTo: 'successor', userId: 'alice', data: {}, version: 2 });
    expect(p.meta.rotation).toBe('renewal');
    expect(p.expiresAt).toBeLessThanOrEqual(clock.t + 5_000);
    // A second rotation of the same token loses: one token has at most one successor.
    expect(await protocol.retire(o, old, 'other', 'renewal')).toBe('rotated');
  });

  it('retire: a record written since it was read is retired at its latest version; a fenced one reports ended', async () => {
    const { store, o, clock } = world();
    const old = await live(store, clock.t);
    expect(await store.update(nextVersion(old, { data: { a: 2 } }), 1, clock.t)).toBe(true);
    expect(await protocol.retire(o, old, 'successor', 'privilege')).toMatchObject({ version: 2, data: { a: 2 } });

    const other = await live(store, clock.t);
    const keep: SessionStore = Object.create(store, { delete: { value: async () => undefined } });
    expect(await protocol.endChain({ ...o, store: keep }, other.id)).toBe('ended');
    expect(await protocol.retire(o, other, 'successor', 'renewal')).toBe('ended');
  });

  it('endChain: a fence is a self-pointer of kind ended that lives at most 5 s', async () => {
    const { store, o, clock } = world();
    const r = await live(store, clock.t);
    // A store whose deletes fail leaves the fence visible.
    const keep: SessionStore = Object.create(store, { delete: { value: async () => undefined } });
    expect(await protocol.endChain({ ...o, store: keep }, r.id)).toBe('ended');
    const fence = (await store.get(r.id, clock.t))!;
    expect(fence).toMatchObject({ rotatedTo: r.id, data: {}, userId: 'alice' });
    expect(fence.meta.rotation).toBe('ended');
    expect(fence.expiresAt).toBeLessThanOrEqual(clock.t + protocol.FENCE_MS);
    clock.advance(protocol.FENCE_MS);
    expect(await store.get(r.id, clock.t)).toBeNull();
  });

  it("endChain follows same-owner pointers to the live end and deletes the chain; it stops at another owner's login", async () => {
    const { store, o, clock } = world();
    const a = await live(store, clock.t);
    const b = await live(store, clock.t);
    const c = await live(store, clock.t);
    expect(await protocol.retire(o, a, b.id, 'renewal')).not.toBeTypeOf('string');
    expect(await protocol.retire(o, b, c.id, 'renewal')).not.toBeTypeOf('string');
    expect(await protocol.endChain(o, a.id, 'bob')).toBe('gone');
    expect(await protocol.endChain(o, a.id, 'alice')).toBe('ended');
    for (const r of [a, b, c]) expect(await store.get(r.id, clock.t)).toBeNull();

    const anon = await live(store, clock.t, { userId: null });
    const signedIn = await live(store, clock.t, { userId: 'carol' });
    expect(await protocol.retire(o, anon, signedIn.id, 'elevated')).not.toBeTypeOf('string');
    expect(await protocol.endChain(o, anon.id)).toBe('foreign');
    expect(await store.get(signedIn.id, clock.t)).not.toBeNull();
    expect(await protocol.endChain(o, 'nothing-here')).toBe('gone');
  });

  it('latest follows a renewal to a same-owner successor and says so; a login or a fence ends the way', async () => {
    const { store, o, clock } = world();
    const a = await live(store, clock.t);
    const b = await live(store, clock.t);
    await protocol.retire(o, a, b.id, 'renewal');
    expect(await protocol.latest(o, b.id, clock.t)).toMatchObject({ followed: false, record: { id: b.id } });
    expect(await protocol.latest(o, a.id, clock.t)).toMatchObject({ followed: true, record: { id: b.id } });

    const c = await live(store, clock.t);
    const d = await live(store, clock.t);
    await protocol.retire(o, c, d.id, 'elevated');
    await expect(protocol.latest(o, c.id, clock.t)).rejects.toBeInstanceOf(SessionDestroyedError);
    expect(await protocol.graceSuccessor(o, (await store.get(c.id, clock.t))!, clock.t)).toBe('worthless');
    expect((await protocol.graceSuccessor(o, (await store.get(a.id, clock.t))!, clock.t)) as SessionRecord).toMatchObject({ id: b.id });
  });

  it("writeChanges merges a request's keys over a concurrent writer's, and reports a same-key conflict before throwing", async () => {
    const { store, o, clock } = world();
    const r = await live(store, clock.t);
    // Another request wrote key b after this one loaded.
    expect(await store.update(nextVersion(r, { data: { a: 1, b: 'theirs' } }), 1, clock.t)).toBe(true);
    let conflicts = 0;
    const hooks: protocol.WriteHooks<null> = {
      reread: async (_ctx, id, now) => (await protocol.latest(o, id, now)).record,
      conflict: async () => void conflicts++,
    };
    const written = await protocol.writeChanges(o, hooks, null, r, { a: 1 }, new Map<string, unknown>([['c', 3], ['a', DELETED]]), clock.t);
    expect(written.data).toEqual({ b: 'theirs', c: 3 });
    expect((await store.get(r.id, clock.t))!.data).toEqual({ b: 'theirs', c: 3 });

    await expect(protocol.writeChanges(o, hooks, null, r, { a: 1 }, new Map([['b', 'mine']]), clock.t)).rejects.toBeInstanceOf(SessionConflictError);
    expect(conflicts).toBe(1);
    expect((await store.get(r.id, clock.t))!.data).toEqual({ b: 'theirs', c: 3 });
  });

  it('carryOver brings a concurrent write into the successor, keeping the rotating request’s own values', async () => {
    const { store, o, clock } = world();
    const succ = await live(store, clock.t, { data: { x: 'mine', y: 1 } });
    const merged = await protocol.carryOver(o, succ.id, { x: 0, y: 1 }, { x: 'theirs', y: 1, z: 'new' });
    expect(merged!.data).toEqual({ x: 'mine', y: 1, z: 'new' });
    expect(await protocol.carryOver(o, succ.id, { y: 1 }, { y: 1 })).toBeNull();
  });
});
