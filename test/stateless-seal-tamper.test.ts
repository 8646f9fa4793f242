/**
 * SEC-10: sealed cookies are AES-256-GCM with a key id; flipping any character of any part, an
 * unknown key id, or moving a seal to another cookie name is rejected, and a bad cookie becomes an
 * empty session (event, no throw).
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { NodeSealer } from '../src/stateless/seal.js';
import { WebSealer } from '../src/stateless/seal-web.js';
import { createSealedSessions, type StatelessEvent } from '../src/stateless/index-sealed.js';

const key = randomBytes(32);
const keys = [{ id: 'k1', key }];
const NAME = '__Host-session';

function flip(s: string, i: number): string {
  const c = s[i]!;
  const alt = c === 'A' ? 'B' : 'A';
  return s.slice(0, i) + alt + s.slice(i + 1);
}

describe('seal format', () => {
  it('has the shape v1.<kid>.<iv>.<ciphertext+tag> in base64url', () => {
    const s = new NodeSealer(keys).sealSync(NAME, '{"a":1}');
    expect(s).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{31,}$/);
  });

  it('two seals of the same payload differ (random IV)', () => {
    const r = new NodeSealer(keys);
    expect(r.sealSync(NAME, 'x')).not.toBe(r.sealSync(NAME, 'x'));
  });

  it('SEC-10: no IV repeats across many seals (the pooled IVs span several refills)', () => {
    const r = new NodeSealer(keys);
    const ivs = new Set<string>();
    for (let i = 0; i < 2000; i++) ivs.add(r.sealSync(NAME, 'x').split('.')[2]!);
    expect(ivs.size).toBe(2000);
    // A seal opens after the pool that made its IV has been replaced.
    const early = r.sealSync(NAME, 'early');
    for (let i = 0; i < 600; i++) r.sealSync(NAME, 'x');
    expect(r.openSync(NAME, early)).toEqual({ payload: 'early', kid: 'k1', stale: false });
  });

  it('node and WebCrypto implementations read each other', async () => {
    const n = new NodeSealer(keys);
    const w = await WebSealer.create(keys);
    const a = n.sealSync(NAME, '{"x":"ünï"}');
    const b = await w.seal(NAME, '{"x":"ünï"}');
    expect(await w.open(NAME, a)).toEqual({ payload: '{"x":"ünï"}', kid: 'k1', stale: false });
    expect(n.openSync(NAME, b)).toEqual({ payload: '{"x":"ünï"}', kid: 'k1', stale: false });
  });
});

describe('SEC-10: tampering', () => {
  const ring = new NodeSealer(keys);
  const sealed = ring.sealSync(NAME, JSON.stringify({ role: 'user' }));
  const [v, kid, iv, ct] = sealed.split('.') as [string, string, string, string];

  it('SEC-10: the untampered seal opens', () => {
    expect(ring.openSync(NAME, sealed)).toMatchObject({ payload: '{"role":"user"}' });
  });

  it('SEC-10: a flipped version is rejected', () => {
    expect(ring.openSync(NAME, ['v2', kid, iv, ct].join('.'))).toBe('malformed');
  });

  it('SEC-10: an unknown key id is rejected', () => {
    expect(ring.openSync(NAME, [v, 'k9', iv, ct].join('.'))).toBe('unknown-key');
  });

  it('SEC-10: every flipped IV character is rejected', () => {
    for (let i = 0; i < iv.length; i++) {
      expect(ring.openSync(NAME, [v, kid, flip(iv, i), ct].join('.'))).not.toHaveProperty('payload');
    }
  });

  it('SEC-10: every flipped ciphertext or tag character is rejected', () => {
    for (let i = 0; i < ct.length; i++) {
      expect(ring.openSync(NAME, [v, kid, iv, flip(ct, i)].join('.'))).not.toHaveProperty('payload');
    }
  });

  it('SEC-10: a truncated tag, an extra part, and a seal moved to another cookie name are rejected', () => {
    expect(ring.openSync(NAME, [v, kid, iv, ct.slice(0, -2)].join('.'))).not.toHaveProperty('payload');
    expect(ring.openSync(NAME, `${sealed}.x`)).toBe('malformed');
    expect(ring.openSync('__Host-other', sealed)).toBe('bad-seal');
  });

  it('SEC-10: a key id moved onto another key is rejected (AAD binds the kid)', () => {
    const two = new NodeSealer([{ id: 'k1', key }, { id: 'k2', key }]);
    expect(two.openSync(NAME, [v, 'k2', iv, ct].join('.'))).toBe('bad-seal');
  });

  it('SEC-10: a seal made under another key with the same id is rejected', () => {
    const other = new NodeSealer([{ id: 'k1', key: randomBytes(32) }]).sealSync(NAME, '{"role":"admin"}');
    expect(ring.openSync(NAME, other)).toBe('bad-seal');
  });
});

describe('SEC-3: hostile cookies become an empty session', () => {
  const hostile = ['*', 'v1', 'v1.k1..', 'v1.k1.AAAAAAAAAAAAAAAA.', '\r\nSet-Cookie: x=1', 'x'.repeat(8192), '☃☃☃', 'v1.k1.%%%.%%%', 'v1.__proto__.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA', '=;=;='];

  it('SEC-3: never throws, emits sealed.invalid, clears the cookie', async () => {
    const events: StatelessEvent[] = [];
    const sealed = createSealedSessions({ keys, onEvent: (e) => events.push(e) });
    for (const h of hostile) {
      const s = await sealed.load(`${NAME}=${h}`);
      expect(Object.keys(s)).toEqual([]);
      expect(s.info.fromCookie).toBe(false);
    }
    expect(events.filter((e) => e.type === 'sealed.invalid').length).toBe(hostile.length);
    const s = await sealed.load(`${NAME}=garbage`);
    expect(s.setCookieHeaders.some((l) => l.startsWith(`${NAME}=;`) && l.includes('Max-Age=0'))).toBe(true);
    for (const e of events) expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('SEC-10: a valid seal whose payload is not a session envelope is refused', async () => {
    const sealed = createSealedSessions({ keys });
    const forged = new NodeSealer(keys).sealSync(NAME, JSON.stringify({ admin: true }));
    const s = await sealed.load(`${NAME}=${forged}`);
    expect(Object.keys(s)).toEqual([]);
  });

  it('a `__proto__` data key (even in a genuine seal) never replaces the session prototype', async () => {
    const sealed = createSealedSessions({ keys });
    const now = Date.now();
    const env = `{"v":1,"sid":"${'a'.repeat(22)}","uid":null,"iat":${now},"seen":${now},"exp":${now + 60_000},"d":{"__proto__":{"polluted":true},"save":1,"ok":2}}`;
    const s = await sealed.load(`${NAME}=${new NodeSealer(keys).sealSync(NAME, env)}`);
    expect(typeof s.save).toBe('function');
    expect((s as Record<string, unknown>).polluted).toBeUndefined();
    expect((s as Record<string, unknown>).ok).toBe(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('round-trips data through save() and load()', async () => {
    const sealed = createSealedSessions<{ user?: string; n?: number }>({ keys });
    const s = await sealed.load(undefined);
    s.user = 'ada';
    s.n = 2;
    await s.save();
    const value = s.setCookieHeaders[0]!.split(';')[0]!;
    const again = await sealed.load(value);
    expect({ user: again.user, n: again.n }).toEqual({ user: 'ada', n: 2 });
    expect(again.info.fromCookie).toBe(true);
    // SEC-2: the cookie value reveals nothing of the data.
    expect(value).not.toContain('ada');
  });
});
