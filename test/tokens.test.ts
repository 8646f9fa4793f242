import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MemoryStore } from '../src/stores/memory.js';
import { nodeCrypto, sha256Sync } from '../src/crypto/node.js';
import { webCrypto } from '../src/crypto/web.js';
import { verifyCookieValue, signToken } from '../src/core/token.js';
import type { SessionStore } from '../src/stores/types.js';
import { setup, FakeClock, nextCookie, SECRET, OLD_SECRET, setCookies } from './helpers/core.js';
import { SessionManager } from '../src/index.js';

/** A MemoryStore that counts lookups, to prove forged cookies never reach the store. */
class CountingStore extends MemoryStore {
  gets = 0;
  override async get(id: string, now: number) {
    this.gets++;
    return super.get(id, now);
  }
}

describe('tokens', () => {
  it('SEC-1: 1e5 tokens from the CSPRNG are unique, 256-bit and URL-safe', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const t = nodeCrypto.randomToken(32);
      expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(100_000);
    expect(Buffer.from(nodeCrypto.randomToken(32), 'base64url').length).toBe(32);
  });

  it('SEC-2: the token is opaque (no user data) and the cookie name is generic', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    await s.login('alice@example.com');
    const { headers } = await manager.commit(s);
    const [c] = setCookies(headers);
    expect(c!.name).toBe('__Host-sid');
    const decoded = Buffer.from(c!.value.split('.')[0]!, 'base64url').toString('latin1');
    expect(decoded).not.toContain('alice');
    expect(c!.value).not.toContain('alice');
  });

  it('SEC-3: fuzzed cookie values are never adopted, never reach the store, and emit an event', async () => {
    const clock = new FakeClock();
    const store = new CountingStore({ clock: clock.now });
    const { manager, events } = setup({ store }, clock);
    const samples = ['*', 'a\r\nSet-Cookie: x=1', 'x'.repeat(8192), '💥✓', '%E0%A4%A', '', '.', `${'A'.repeat(43)}.${'B'.repeat(43)}`];
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(...samples), fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 120 })), async (v) => {
        const before = store.gets;
        const s = await manager.load({ cookie: `__Host-sid=${v}` });
        expect(s.isNew).toBe(true);
        expect(store.gets).toBe(before);
      }),
      { numRuns: 300 },
    );
    expect(events.some((e) => e.type === 'token.invalid')).toBe(true);
  });

  it('SEC-3: an unissued but well-signed-looking token gets a fresh session and a cleared cookie', async () => {
    const { manager } = setup({ secrets: undefined });
    const forged = nodeCrypto.randomToken(32); // well-formed, never issued
    const s = await manager.load({ cookie: `__Host-sid=${forged}` });
    expect(s.isNew).toBe(true);
    s.set('x', 1);
    const { headers } = await manager.commit(s);
    // the new session gets its own token, not the attacker's (no fixation)
    expect(nextCookie(headers)).not.toContain(forged);
  });

  it('SEC-21: the store id is the SHA-256 of the token and the store never holds the token', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock: clock.now });
    const { manager } = setup({ store }, clock);
    const s = await manager.load({});
    s.set('k', 'v');
    const { headers } = await manager.commit(s);
    const token = nextCookie(headers).split('=')[1]!.split('.')[0]!;
    expect(s.id).toBe(sha256Sync(token));
    const dump = JSON.stringify([...(store as any).map.entries()]);
    expect(dump).not.toContain(token);
  });
});

describe('key ring', () => {
  it('newest key signs; an old key still verifies and the cookie is re-issued with the newest', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock: clock.now });
    const old = setup({ store, secrets: [OLD_SECRET] }, clock);
    const s1 = await old.manager.load({});
    s1.set('a', 1);
    const cookie = nextCookie((await old.manager.commit(s1)).headers);

    const rotated = new SessionManager({ store, secrets: [SECRET, OLD_SECRET], clock: old.clock.now });
    const s2 = await rotated.load({ cookie });
    expect(s2.get('a')).toBe(1);
    const { headers } = await rotated.commit(s2);
    const reissued = nextCookie(headers);
    expect(reissued).not.toBe(cookie);
    expect(reissued.split('=')[1]!.split('.')[0]).toBe(cookie.split('=')[1]!.split('.')[0]);

    // once the old key is dropped, only the re-issued cookie works
    const newOnly = new SessionManager({ store, secrets: [SECRET], clock: old.clock.now });
    expect((await newOnly.load({ cookie })).isNew).toBe(true);
    expect((await newOnly.load({ cookie: reissued })).get('a')).toBe(1);
  });

  it('node and WebCrypto implementations agree', async () => {
    const key = new TextEncoder().encode(SECRET);
    const t = nodeCrypto.randomToken(32);
    expect(await webCrypto.sha256(t)).toBe(await nodeCrypto.sha256(t));
    expect(await webCrypto.hmac(key, t)).toBe(await nodeCrypto.hmac(key, t));
    const signed = await signToken(t, [key], nodeCrypto);
    expect(await verifyCookieValue(signed, [key], webCrypto)).toEqual({ token: t, keyIndex: 0 });
    expect(webCrypto.randomToken(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('SEC-10: flipping any character of the signed cookie value is rejected', async () => {
    const key = new TextEncoder().encode(SECRET);
    const t = nodeCrypto.randomToken(32);
    const signed = await signToken(t, [key], nodeCrypto);
    for (let i = 0; i < signed.length; i++) {
      const c = signed[i] === 'A' ? 'B' : 'A';
      const tampered = signed.slice(0, i) + c + signed.slice(i + 1);
      expect(await verifyCookieValue(tampered, [key], nodeCrypto)).toBeNull();
    }
  });

  it('a manager that works on WebCrypto alone serves sessions', async () => {
    const { manager } = setup({ crypto: webCrypto });
    const s = await manager.load({});
    s.set('n', 1);
    const cookie = nextCookie((await manager.commit(s)).headers);
    expect((await manager.load({ cookie })).get('n')).toBe(1);
  });

  it('refuses secrets shorter than 256 bits at configuration', () => {
    expect(() => new SessionManager({ store: new MemoryStore(), secrets: ['short'] })).toThrow(/32 bytes/);
  });
});

export type { SessionStore };
