/**
 * The `patch` cases of the store conformance suite (`testSessionStore` runs them inside its
 * describe). A store without `patch` passes them by not offering it.
 */
import { it, expect } from 'vitest';
import type { SessionStore } from '../stores/types.js';
import { makeRecord } from './conformance.js';
import { takeJson } from '../lib/data-json.js';

/** JSON with object keys sorted: stores may order keys their own way (PostgreSQL's jsonb does). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

export function patchCases(ctx: { store: () => SessionStore; now: () => number }, concurrency: number): void {
  it('patch (when offered) sets and deletes data keys in one step, bumps the version and renews activity only', async () => {
    const store = ctx.store();
    const now = ctx.now();
    if (!store.patch) return expect(store.patch).toBeUndefined();
    const r = makeRecord(now, { userId: 'pu', authTime: now - 9, data: { keep: [1, { a: null }], drop: 'x', n: 1 } });
    await store.create(r);
    const out = await store.patch(r.id, { set: { n: 2, added: { deep: [] } }, del: ['drop', 'never-there'] }, { now: now + 5, expiresAt: now + 700_000 });
    expect(out).not.toBeNull();
    const got = (await store.get(r.id, now + 5))!;
    expect(got.data).toEqual({ keep: [1, { a: null }], n: 2, added: { deep: [] } });
    // Empty arrays stay arrays and nulls stay: values are kept as JSON, not re-encoded.
    expect(canonical(got.data)).toBe(canonical({ keep: [1, { a: null }], n: 2, added: { deep: [] } }));
    expect(got.version).toBe(2);
    expect(got.lastSeenAt).toBe(now + 5);
    expect(got.expiresAt).toBe(now + 700_000);
    expect(got.userId).toBe('pu');
    expect(got.authTime).toBe(now - 9);
    expect(got.createdAt).toBe(r.createdAt);
    expect(got.absoluteExpiresAt).toBe(r.absoluteExpiresAt);
    expect(got.meta).toEqual(r.meta);
    expect(out!.data).toEqual(got.data);
    expect(out!.version).toBe(2);
    expect(out!.expiresAt).toBe(got.expiresAt);
    // The returned record is the caller's: changing it changes nothing stored.
    (out!.data as { n: number }).n = 99;
    expect((await store.get(r.id, now + 5))!.data.n).toBe(2);
    // A compare-and-set holding the old version now fails: patch is a write like any other.
    expect(await store.update({ ...r, version: 2, data: {} }, 1, now + 5)).toBe(false);
  });

  it('patch (when offered) keeps values exactly: numbers, strings with quotes and escapes, odd keys', async () => {
    const store = ctx.store();
    const now = ctx.now();
    if (!store.patch) return;
    const odd = { 'a"b': 1, 'c\\d': '}{"]', 'ünï': '😀', '': 0, __proto__x: [], big: 2 ** 53 - 1, tiny: 1e-7, neg: -0.5, t: true, f: false, z: null };
    const r = makeRecord(now, { data: { before: '",:{}[]\\' } });
    await store.create(r);
    const set: Record<string, unknown> = { ...odd };
    Object.defineProperty(set, '__proto__', { value: { p: 1 }, enumerable: true, configurable: true, writable: true });
    const out = await store.patch(r.id, { set }, { now, expiresAt: now + 600_000 });
    const got = (await store.get(r.id, now))!;
    const want = JSON.parse(JSON.stringify({ before: '",:{}[]\\', ...odd })) as Record<string, unknown>;
    Object.defineProperty(want, '__proto__', { value: { p: 1 }, enumerable: true, configurable: true, writable: true });
    // A store that cannot express a key in one step may decline (null) and must then write nothing.
    if (out === null) return expect(got.data).toEqual({ before: '",:{}[]\\' });
    expect(canonical(got.data)).toBe(canonical(want));
    expect(Object.getPrototypeOf(got.data)).toBe(Object.prototype);
  });

  it('patch (when offered) never inserts, revives, renews a pointer, or passes the absolute end', async () => {
    const store = ctx.store();
    const now = ctx.now();
    if (!store.patch) return;
    const o = { now, expiresAt: now + 600_000 };
    expect(await store.patch(makeRecord(now).id, { set: { a: 1 } }, o)).toBeNull();
    const dead = makeRecord(now, { expiresAt: now + 1000 });
    await store.create(dead);
    expect(await store.patch(dead.id, { set: { a: 1 } }, { now: now + 2000, expiresAt: now + 600_000 })).toBeNull();
    expect(await store.get(dead.id, now + 2000)).toBeNull();
    const gone = makeRecord(now);
    await store.create(gone);
    await store.delete(gone.id);
    expect(await store.patch(gone.id, { set: { a: 1 } }, o)).toBeNull();
    expect(await store.get(gone.id, now)).toBeNull();
    const tomb = makeRecord(now, { rotatedTo: makeRecord(now).id, data: {} });
    await store.create(tomb);
    expect(await store.patch(tomb.id, { set: { a: 1 } }, o)).toBeNull();
    expect((await store.get(tomb.id, now))!.data).toEqual({});
    const capped = makeRecord(now, { absoluteExpiresAt: now + 30_000, expiresAt: now + 10_000 });
    await store.create(capped);
    expect((await store.patch(capped.id, { set: { a: 1 } }, o))!.expiresAt).toBe(now + 30_000);
    expect((await store.get(capped.id, now))!.expiresAt).toBe(now + 30_000);
  });

  it('patch (when offered) with expect writes only while each named key holds the expected value', async () => {
    const store = ctx.store();
    const now = ctx.now();
    if (!store.patch) return;
    const o = { now, expiresAt: now + 600_000 };
    const r = makeRecord(now, { data: { n: 1, o: { a: [1] } } });
    await store.create(r);
    expect(await store.patch(r.id, { set: { n: 2 } }, { ...o, expect: { n: 1, o: { a: [1] }, absent: undefined } })).not.toBeNull();
    expect(await store.patch(r.id, { set: { n: 3 } }, { ...o, expect: { n: 1 } })).toBeNull();
    expect(await store.patch(r.id, { set: { n: 3 } }, { ...o, expect: { absent: undefined, o: { a: [2] } } })).toBeNull();
    expect(await store.patch(r.id, { set: { n: 3 } }, { ...o, expect: { n: undefined } })).toBeNull();
    const got = (await store.get(r.id, now))!;
    expect(got.data).toEqual({ n: 2, o: { a: [1] } });
    expect(got.version).toBe(2);
  });

  it('patch (when offered) with a base: a stale base never overwrites a newer write, a current one applies', async () => {
    const store = ctx.store();
    const now = ctx.now();
    if (!store.patch) return;
    const o = { now, expiresAt: now + 600_000 };
    const r = makeRecord(now, { userId: 'pb', data: { a: 1 } });
    await store.create(r);
    const loaded = (await store.get(r.id, now))!;
    expect(await store.patch(r.id, { set: { b: 2 } }, o)).not.toBeNull();
    // Computed from version 1 while version 2 is stored: the store merges, b stays.
    const merged = await store.patch(r.id, { set: { c: 3 } }, { ...o, base: loaded });
    expect(merged!.data).toEqual({ a: 1, b: 2, c: 3 });
    expect((await store.get(r.id, now))!.data).toEqual({ a: 1, b: 2, c: 3 });
    const current = (await store.get(r.id, now))!;
    const out = await store.patch(r.id, { set: { a: 9 }, del: ['b'] }, { ...o, expect: { a: 1 }, base: current });
    expect(out!.data).toEqual({ a: 9, c: 3 });
    expect(out!.version).toBe(4);
    const got = (await store.get(r.id, now))!;
    expect(got.data).toEqual({ a: 9, c: 3 });
    expect(got.version).toBe(4);
    expect(got.userId).toBe('pb');
    // An expectation the base already fails is not met, whatever the base says.
    expect(await store.patch(r.id, { set: { a: 10 } }, { ...o, expect: { a: 1 }, base: got })).toBeNull();
    expect((await store.get(r.id, now))!.data.a).toBe(9);
  });

  it('the data text a store hands on with a record is exactly what JSON.stringify writes for that data, after create, update and every kind of patch', async () => {
    // A store may pass the text it parsed along (lib/data-json.ts) so a read costs one serialisation
    // fewer; text that differs (a key order a merge changed) would make every later read look changed.
    const store = ctx.store();
    const now = ctx.now();
    const o = { now, expiresAt: now + 600_000 };
    const r = makeRecord(now, { data: { b: 1, a: { z: [1, 'é'], y: null }, '10': 'x', '2': 'y', s: 'q"\\' } });
    await store.create(r);
    const handed = (rec: { data: Record<string, unknown> } | null): void => {
      const text = rec && takeJson(rec.data);
      if (text) expect(text).toBe(JSON.stringify(rec!.data));
    };
    const read = async () => {
      const got = (await store.get(r.id, now))!;
      handed(got);
      return got;
    };
    let got = await read();
    expect(await store.update({ ...got, version: got.version + 1, data: { ...got.data, c: 3, '7': 'z' } }, got.version, now)).toBe(true);
    got = await read();
    if (!store.patch) return;
    handed(await store.patch(r.id, { set: { d: 4 } }, { ...o, base: got }));
    await read();
    // A stale base: the store merges.
    handed(await store.patch(r.id, { set: { e: 5 }, del: ['b'] }, { ...o, base: got }));
    await read();
    // New index keys, with and without a base: JavaScript lists them first (a store may decline).
    handed(await store.patch(r.id, { set: { '5': 'i', f: 6 } }, o));
    got = await read();
    handed(await store.patch(r.id, { set: { '3': 'j' } }, { ...o, base: got }));
    handed(await store.patch(r.id, { set: { '4': 'k' } }, { ...o, base: got }));
    await read();
  });

  it(`patch (when offered): ${concurrency} concurrent patches of different keys, and of one key with expect, lose nothing`, async () => {
    const store = ctx.store();
    const now = ctx.now();
    if (!store.patch) return;
    const r = makeRecord(now, { data: { shared: 0 } });
    await store.create(r);
    const o = { now, expiresAt: now + 600_000 };
    const results = await Promise.all(Array.from({ length: concurrency }, (_, i) => store.patch!(r.id, { set: { [`k${i}`]: i } }, o)));
    expect(results.every((x) => x !== null)).toBe(true);
    // Expect-guarded increments of one key: retried by the caller until they apply, none lost.
    const inc = async (): Promise<void> => {
      for (let attempt = 0; attempt < 10_000; attempt++) {
        const n = (await store.get(r.id, now))!.data.shared as number;
        if (await store.patch!(r.id, { set: { shared: n + 1 } }, { ...o, expect: { shared: n } })) return;
      }
      throw new Error('too many retries');
    };
    await Promise.all(Array.from({ length: 20 }, inc));
    const got = (await store.get(r.id, now))!;
    for (let i = 0; i < concurrency; i++) expect(got.data[`k${i}`]).toBe(i);
    expect(got.data.shared).toBe(20);
    expect(got.version).toBe(1 + concurrency + 20);
  });
}
