/**
 * The iron-session migration is one-time when revocation is configured (SEC-37): a seal written by
 * the real iron-session opens once, and no other spelling of it, no concurrent copy, and no
 * later copy while iron would still accept it, opens again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { sealData } from 'iron-session';
import { createSealedSessions, readIronSeal, Revocation, type StatelessEvent } from '../src/stateless/index-sealed.js';
import { MemoryStore } from '../src/stores/memory.js';
import { RedisStore } from '../src/stores/redis.js';
import type { SessionStore } from '../src/stores/types.js';

const IRON_PASSWORD = 'iron-session-password-at-least-32-chars!';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The seal with its MAC's last character replaced by each spelling that decodes to the same bytes. */
function macSpellings(seal: string): string[] {
  const tilde = seal.indexOf('~');
  const body = tilde === -1 ? seal : seal.slice(0, tilde);
  const suffix = tilde === -1 ? '' : seal.slice(tilde);
  const parts = body.split('*');
  const mac = parts[7]!;
  expect(mac.length % 4).toBe(3); // 32 bytes: the last character carries 2 unused bits
  const v = B64URL.indexOf(mac[mac.length - 1]!);
  return [0, 1, 2, 3].map((low) => {
    parts[7] = mac.slice(0, -1) + B64URL[(v & ~3) | low]!;
    return parts.join('*') + suffix;
  });
}

const client = createClient({ url: 'redis://127.0.0.1:6379' });
const prefix = `swtest:iron-replay:${randomBytes(5).toString('hex')}:`;
beforeAll(async () => {
  await client.connect();
});
afterAll(async () => {
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await client.del(keys);
  await client.quit();
});

const stores: Array<[string, (clock: () => number) => SessionStore]> = [
  ['memory', (clock) => new MemoryStore({ clock })],
  ['redis', () => new RedisStore({ client, prefix })],
];

function app(store: SessionStore, now: () => number = Date.now, events: StatelessEvent[] = []) {
  const revocation = new Revocation({ store, now });
  return createSealedSessions<{ user?: string }>({
    keys: [{ id: 'k1', key: randomBytes(32) }],
    revocation,
    now,
    iron: { password: IRON_PASSWORD, cookieName: 'old_iron' },
    onEvent: (e) => events.push(e),
  });
}

describe('iron MAC spelling', () => {
  it('SEC-10: only the canonical base64url spelling of the iron MAC opens; its 3 siblings are refused', async () => {
    const seal = await sealData({ user: 'ada' }, { password: IRON_PASSWORD, ttl: 600 });
    const spellings = macSpellings(seal);
    const opened = await Promise.all(spellings.map((s) => readIronSeal(s, { password: IRON_PASSWORD })));
    expect(spellings).toContain(seal);
    expect(opened.filter((d) => d !== null)).toEqual([{ user: 'ada' }]);
    expect(opened[spellings.indexOf(seal)]).toEqual({ user: 'ada' });
  });
});

describe.each(stores)('one-time iron migration on %s', (_name, makeStore) => {
  it('SEC-37: the 4 spellings of the MAC, and the seal without its ~2 suffix, migrate once in total', async () => {
    const events: StatelessEvent[] = [];
    const sealed = app(makeStore(Date.now), Date.now, events);
    const seal = await sealData({ user: 'carol' }, { password: IRON_PASSWORD, ttl: 600 });
    // Siblings first: whichever spelling arrives first, the others must not mint a session.
    const variants = [...macSpellings(seal).filter((s) => s !== seal), seal, seal.replace(/~2$/, ''), seal.replace(/~2$/, '~02')];
    let users = 0;
    for (const v of variants) if ((await sealed.load(`old_iron=${v}`)).user === 'carol') users++;
    expect(users).toBe(1);
    expect(events.filter((e) => e.type === 'sealed.migrated')).toHaveLength(1);
  });

  it('SEC-37: concurrent requests with the same iron cookie (two instances, one store) migrate it once', async () => {
    const store = makeStore(Date.now);
    const a = app(store);
    const b = app(store);
    const seal = await sealData({ user: 'dave' }, { password: IRON_PASSWORD, ttl: 600 });
    const sessions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).load(`old_iron=${seal}`)));
    expect(sessions.filter((s) => s.user === 'dave')).toHaveLength(1);
  });

  it('SEC-37: the deny record lasts until exp + iron skew, the whole time iron would still accept the seal', async () => {
    let now = Date.now();
    const clock = (): number => now;
    const sealed = app(makeStore(clock), clock);
    const seal = await sealData({ user: 'erin' }, { password: IRON_PASSWORD, ttl: 60 });
    const exp = Number(seal.split('*')[5]);
    expect((await sealed.load(`old_iron=${seal}`)).user).toBe('erin');
    // Past exp but within iron's 60 s skew: iron still opens the seal, so the denial must hold.
    now = exp + 30_000;
    expect(await readIronSeal(seal, { password: IRON_PASSWORD, now })).toEqual({ user: 'erin' });
    expect((await sealed.load(`old_iron=${seal}`)).user).toBeUndefined();
    now = exp + 59_000;
    expect((await sealed.load(`old_iron=${seal}`)).user).toBeUndefined();
    // Past exp + skew the seal is dead on its own.
    now = exp + 61_000;
    expect(await readIronSeal(seal, { password: IRON_PASSWORD, now })).toBeNull();
    expect((await sealed.load(`old_iron=${seal}`)).user).toBeUndefined();
  });
});
