/**
 * One JSON pass fewer per request (issue 22): a store hands the text it parsed a session's data
 * from to the manager (src/lib/data-json.ts), the session's change detection starts from it, and
 * the per-key diff compares plain values without serialising them (`sameJson`). Each of these is a
 * shortcut past a serialisation that used to prove the answer, so each is checked against that
 * answer: a change is never missed, an unchanged read never looks changed, on every store.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { MemoryStore, SessionManager, type SessionStore } from '../src/index.js';
import type { SessionRecord } from '../src/lib/record.js';
import { sameJson } from '../src/core/changes.js';
import { noteData, noteWrite, parseData, takeJson, takeWrite } from '../src/lib/data-json.js';
import { allStores } from './helpers/stores.js';
import { SECRET, nextCookie } from './helpers/core.js';
import { fuzzRuns } from './helpers/fuzz.js';

/** Values JSON.stringify treats specially beside plain ones: each must reach the stringify fallback. */
const special = fc.constantFrom<unknown>(undefined, NaN, Infinity, -Infinity, -0, 0, new Date(0), () => 1, Symbol('s'), { toJSON: () => 'x' }, Object.assign([1], { toJSON: () => 2 }), new Map([[1, 2]]), new Number(1), new String('x'), Object.create(null) as object);
const key = fc.constantFrom('a', 'b', '1', '10', '__proto__', 'é', '');
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 4 }),
    fc.constantFrom(0, 1, -1, 1e21, 0.1, true, false, null, '1', 'true', 'null'),
    special,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.array(fc.tuple(key, tie('v')), { maxLength: 3 }).map((kv) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of kv) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
  ),
})).v;

describe('sameJson', () => {
  it('answers exactly as comparing the two JSON.stringify texts does, on plain and special values', () => {
    fc.assert(
      fc.property(value, value, fc.boolean(), (a, b, selfCopy) => {
        // Half the pairs are a value and its own JSON copy: mostly equal texts, the case diff meets.
        let other = b;
        if (selfCopy) {
          const text = JSON.stringify(a);
          other = text === undefined ? undefined : (JSON.parse(text) as unknown);
        }
        expect(sameJson(a, other)).toBe(JSON.stringify(a) === JSON.stringify(other));
        expect(sameJson(other, a)).toBe(JSON.stringify(a) === JSON.stringify(other));
      }),
      { numRuns: fuzzRuns('sameJson vs JSON text', 3000, 300_000) },
    );
  });

  it('tells key order, a left-out undefined key and a toJSON apart as the text does', () => {
    expect(sameJson({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(sameJson([undefined], [null])).toBe(true);
    expect(sameJson(new Date(5), new Date(5).toISOString())).toBe(true);
    expect(sameJson(-0, 0)).toBe(true);
    expect(sameJson(NaN, null)).toBe(true);
    expect(sameJson([1, 2], [1, 2, 3])).toBe(false);
  });
});

describe('the data text a store hands on', () => {
  it('reaches only the reader of that very object, once', () => {
    const a = parseData('{"n":1}');
    const b = parseData('{"n":2}');
    expect(takeJson(a)).toBeNull();
    expect(takeJson(b)).toBe('{"n":2}');
    expect(takeJson(b)).toBeNull();
    const c = { n: 3 };
    noteData(c, '{"n":3}');
    expect(takeJson({ n: 3 })).toBeNull();
    expect(takeJson(c)).toBe('{"n":3}');
  });
});

describe('the text the core hands a store for a write', () => {
  it('reaches only the write of that very object, once', () => {
    const a = { n: 1 };
    noteWrite(a, '{"n":1}');
    expect(takeWrite({ n: 1 })).toBeNull();
    expect(takeWrite(a)).toBe('{"n":1}');
    expect(takeWrite(a)).toBeNull();
  });
});

describe('a write whose store never took the text', () => {
  it('leaves nothing behind: a later write of the same object, changed, is serialised afresh', async () => {
    const inner = new MemoryStore();
    // A custom store that stores a copy: it never sees the core's data object, so never takes its text.
    const copying = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'update') return (r: SessionRecord, v: number, now: number) => target.update({ ...r, data: structuredClone(r.data) }, v, now);
        if (prop === 'patch') return undefined;
        const f = Reflect.get(target, prop, receiver) as unknown;
        return typeof f === 'function' ? f.bind(target) : f;
      },
    });
    const manager = new SessionManager<Record<string, any>>({ store: copying, secrets: [SECRET] });
    const s0 = await manager.load({});
    s0.data.n = 0;
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const s = await manager.load({ cookie });
    let draft: Record<string, any> = {};
    await s.update((d) => {
      d.n = 1;
      draft = d;
    });
    draft.n = 2;
    const cur = (await inner.get(s.record!.id, Date.now()))!;
    expect(cur.data.n).toBe(1);
    expect(await inner.update({ ...cur, version: cur.version + 1, data: draft }, cur.version, Date.now())).toBe(true);
    expect((await inner.get(s.record!.id, Date.now()))!.data.n).toBe(2);
  });
});

const DATA = {
  text: 'é 😀 "quoted" \\ back\nslash',
  nested: { list: [1, 2, { deep: [null, true] }], empty: {}, none: [] },
  numbers: [0, -1, 0.1, 1e21, 5e-7, 9007199254740991],
  '10': 'integer-like key',
  '2': 'another',
  plain: 'x',
};

const factories = allStores();
afterAll(async () => {
  for (const f of factories) await f.close();
});

describe.each(factories.map((f) => [f.name, f] as const))('data read back from the store (%s)', (_name, factory) => {
  async function start(): Promise<{ manager: SessionManager<Record<string, any>>; store: SessionStore; cookie: string }> {
    const store = await factory.open(Date.now);
    const manager = new SessionManager<Record<string, any>>({ store, secrets: [SECRET], touchAfter: 3_600_000 });
    const s = await manager.load({});
    Object.assign(s.data, structuredClone(DATA));
    return { manager, store, cookie: nextCookie((await manager.commit(s)).headers) };
  }

  it('a read that looks at every value and changes none has nothing to commit, also after patches added keys', async () => {
    const { manager, store, cookie } = await start();
    for (const [k, v] of [['7', 'new integer-like key'], ['zz', { x: [1, 'é'] }], ['plain', 'y']] as const) {
      const w = await manager.load({ cookie });
      w.data[k] = v;
      await manager.commit(w);
    }
    const s = await manager.load({ cookie });
    expect(JSON.stringify(s.data)).toContain('new integer-like key');
    const version = s.record!.version;
    expect(manager.needsCommit(s)).toBe(false);
    expect((await manager.commit(s)).headers).toEqual([]);
    expect((await store.get(s.record!.id, Date.now()))!.version).toBe(version);
  });

  it('a deep change made right after loading, before anything else reads the data, is stored', async () => {
    const { manager, cookie } = await start();
    const s = await manager.load({ cookie });
    (s.data.nested as { list: unknown[] }).list.push('pushed');
    expect(manager.needsCommit(s)).toBe(true);
    await manager.commit(s);
    const again = await manager.load({ cookie });
    expect((again.data.nested as { list: unknown[] }).list).toEqual([1, 2, { deep: [null, true] }, 'pushed']);
  });

  it('two requests loaded together keep their own texts: each one’s change lands, the untouched one writes nothing', async () => {
    const { manager, cookie } = await start();
    const [a, b, c] = await Promise.all([manager.load({ cookie }), manager.load({ cookie }), manager.load({ cookie })]);
    a.data.fromA = 1;
    (b.data.nested as { empty: Record<string, number> }).empty.fromB = 2;
    void c.data.plain;
    expect(manager.needsCommit(c)).toBe(false);
    await Promise.all([manager.commit(a), manager.commit(b), manager.commit(c)]);
    const after = await manager.load({ cookie });
    expect(after.data.fromA).toBe(1);
    expect((after.data.nested as { empty: Record<string, number> }).empty).toEqual({ fromB: 2 });
  });

  it('update(fn): the data fn made is stored, and the text made for that write never outlives it', async () => {
    const { manager, store, cookie } = await start();
    const s = await manager.load({ cookie });
    let draft: Record<string, any> = {};
    await s.update((d) => {
      d.n = 1;
      draft = d;
    });
    expect((await manager.load({ cookie })).data.n).toBe(1);
    // Someone writes the same object again after changing it (a store user's own get, change,
    // update): the store must serialise it afresh, not reuse what the core made for its write.
    draft.n = 2;
    const cur = (await store.get(s.record!.id, Date.now()))!;
    expect(await store.update({ ...cur, version: cur.version + 1, data: draft }, cur.version, Date.now())).toBe(true);
    expect((await manager.load({ cookie })).data.n).toBe(2);
  });

  it('update(fn) on data the request already changed: both land, and a read-only next request has nothing to commit', async () => {
    const { manager, cookie } = await start();
    const s = await manager.load({ cookie });
    s.data.pending = 'mine';
    await s.update((d) => {
      d.n = 7;
    });
    expect(s.data.n).toBe(7);
    expect(s.data.pending).toBe('mine');
    await manager.commit(s);
    const after = await manager.load({ cookie });
    expect(after.data.n).toBe(7);
    expect(after.data.pending).toBe('mine');
    void after.data.plain;
    expect(manager.needsCommit(after)).toBe(false);
  });

  it('after a commit the same request can change the data again, and that change is stored too', async () => {
    const { manager, cookie } = await start();
    const s = await manager.load({ cookie });
    s.data.first = 1;
    await manager.commit(s);
    expect(manager.needsCommit(s)).toBe(false);
    (s.data.nested as { list: unknown[] }).list.length = 0;
    s.data.second = 2;
    expect(manager.needsCommit(s)).toBe(true);
    await manager.commit(s);
    const after = await manager.load({ cookie });
    expect(after.data.first).toBe(1);
    expect(after.data.second).toBe(2);
    expect((after.data.nested as { list: unknown[] }).list).toEqual([]);
  });
});
