/**
 * Key ring behaviour (SEC-10, @fastify/secure-session habits): newest key seals, every key opens,
 * an old-key cookie is re-sealed with the newest key; misconfiguration throws ConfigError.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../src/errors.js';
import { NodeSealer, generateSealKey } from '../src/stateless/seal.js';
import { WebSealer } from '../src/stateless/seal-web.js';
import { createSealedSessions, type StatelessEvent } from '../src/stateless/index-sealed.js';

const NAME = '__Host-session';

describe('key rotation', () => {
  const k1 = { id: 'k1', key: generateSealKey() };
  const k2 = { id: 'k2', key: generateSealKey() };

  it('SEC-10: a cookie sealed with an old key opens and is re-sealed with the newest key', async () => {
    const events: StatelessEvent[] = [];
    const before = createSealedSessions<{ user?: string }>({ keys: [k1] });
    const s = await before.load(undefined);
    s.user = 'ada';
    await s.save();
    const cookie = s.setCookieHeaders[0]!.split(';')[0]!;
    expect(cookie).toContain('=v1.k1.');

    const after = createSealedSessions<{ user?: string }>({ keys: [k2, k1], onEvent: (e) => events.push(e) });
    const s2 = await after.load(cookie);
    expect(s2.user).toBe('ada');
    expect(s2.setCookieHeaders).toHaveLength(1);
    expect(s2.setCookieHeaders[0]).toContain('=v1.k2.');
    expect(events).toContainEqual(expect.objectContaining({ type: 'sealed.rekeyed', fromKid: 'k1', toKid: 'k2' }));
  });

  it('SEC-10: a cookie of a key removed from the ring is refused', async () => {
    const old = new NodeSealer([k1]).sealSync(NAME, '{}');
    expect(new NodeSealer([k2]).openSync(NAME, old)).toBe('unknown-key');
  });

  it('a current-key cookie is not re-sealed on read', async () => {
    const sealed = createSealedSessions<{ user?: string }>({ keys: [k2, k1] });
    const s = await sealed.load(undefined);
    s.user = 'x';
    await s.save();
    const s2 = await sealed.load(s.setCookieHeaders[0]!.split(';')[0]!);
    expect(s2.setCookieHeaders).toEqual([]);
  });
});

describe('key configuration', () => {
  it('refuses keys that are not 32 bytes', () => {
    expect(() => new NodeSealer([{ id: 'a', key: randomBytes(16) }])).toThrow(ConfigError);
    expect(() => new NodeSealer([{ id: 'a', key: 'short' }])).toThrow(ConfigError);
    expect(() => new NodeSealer([{ id: 'a', key: 'x'.repeat(32) }])).toThrow(ConfigError);
  });

  it('refuses an empty ring, bad or duplicate ids', () => {
    expect(() => new NodeSealer([])).toThrow(ConfigError);
    expect(() => new NodeSealer([{ id: 'a.b', key: randomBytes(32) }])).toThrow(ConfigError);
    expect(() => new NodeSealer([{ id: 'a', key: randomBytes(32) }, { id: 'a', key: randomBytes(32) }])).toThrow(ConfigError);
  });

  it('refuses short passwords and a missing or short salt (no default salt)', () => {
    expect(() => new NodeSealer([{ id: 'p', password: 'too short', salt: 'a-good-salt-value' }])).toThrow(ConfigError);
    expect(() => new NodeSealer([{ id: 'p', password: 'p'.repeat(32), salt: 'short' }])).toThrow(ConfigError);
    expect(() => new NodeSealer([{ id: 'p', password: 'p'.repeat(32) } as never])).toThrow(ConfigError);
  });

  it('the web sealer refuses the same misconfiguration', async () => {
    await expect(WebSealer.create([{ id: 'a', key: randomBytes(8) }])).rejects.toThrow(ConfigError);
  });

  it('password keys derive the same key on node and WebCrypto (HKDF, per-key salt)', async () => {
    const pk = [{ id: 'p', password: 'correct horse battery staple, long enough', salt: 'per-deployment-salt-1' }];
    const n = new NodeSealer(pk);
    const w = await WebSealer.create(pk);
    expect(await w.open(NAME, n.sealSync(NAME, 'hi'))).toMatchObject({ payload: 'hi' });
    // A different salt gives a different key.
    const other = new NodeSealer([{ ...pk[0]!, salt: 'per-deployment-salt-2' }]);
    expect(other.openSync(NAME, n.sealSync(NAME, 'hi'))).toBe('bad-seal');
  });

  it('refuses insecure cookie combinations at start-up', () => {
    const keys = [{ id: 'k', key: randomBytes(32) }];
    expect(() => createSealedSessions({ keys, cookieName: '__Host-x', cookie: { domain: 'example.com' } })).toThrow(ConfigError);
    expect(() => createSealedSessions({ keys, insecureDevelopmentCookies: true, cookieName: '__Host-x' })).toThrow(ConfigError);
    expect(() => createSealedSessions({ keys, idleTimeout: 10, absoluteTimeout: 5 })).toThrow(ConfigError);
    expect(() => createSealedSessions({ keys, cookie: { maxAge: 500 * 86400 } })).toThrow(ConfigError);
  });
});
