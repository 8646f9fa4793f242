/**
 * SEC-11 / SEC-13: idle and absolute expiry live inside the seal and are enforced by the server
 * with its own clock; cookie attributes and client fields play no part.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createSealedSessions, type StatelessEvent } from '../src/stateless/index-sealed.js';

const MIN = 60_000;
const keys = [{ id: 'k1', key: randomBytes(32) }];

function setup() {
  let now = Date.UTC(2026, 0, 1);
  const events: StatelessEvent[] = [];
  const sealed = createSealedSessions<{ user?: string }>({
    keys,
    idleTimeout: 30 * MIN,
    absoluteTimeout: 120 * MIN,
    touchAfter: MIN,
    now: () => now,
    onEvent: (e) => events.push(e),
  });
  return { sealed, events, advance: (ms: number) => (now += ms), at: () => now };
}

function cookieOf(lines: readonly string[]): string {
  return lines.map((l) => l.split(';')[0]!).join('; ');
}

describe('SEC-11: server-enforced expiry of sealed sessions', () => {
  it('SEC-11: a seal idle for idleTimeout + 1 s is refused', async () => {
    const { sealed, advance, events } = setup();
    const s = await sealed.load(undefined);
    s.user = 'ada';
    await s.save();
    const cookie = cookieOf(s.setCookieHeaders);
    advance(30 * MIN - 1000);
    expect((await sealed.load(cookie)).user).toBe('ada');
    advance(2000);
    expect((await sealed.load(cookie)).user).toBeUndefined();
    expect(events).toContainEqual(expect.objectContaining({ type: 'sealed.expired', kind: 'idle' }));
  });

  it('SEC-11: activity moves only the idle deadline; absolute + 1 s is refused', async () => {
    const { sealed, advance, events } = setup();
    const s = await sealed.load(undefined);
    s.user = 'ada';
    await s.save();
    let cookie = cookieOf(s.setCookieHeaders);
    const created = s.info.createdAt;
    // Active every 20 min: the idle deadline keeps moving (automatic re-seal on read).
    for (let i = 0; i < 5; i++) {
      advance(20 * MIN);
      const r = await sealed.load(cookie);
      expect(r.user).toBe('ada');
      expect(r.info.createdAt).toBe(created);
      expect(r.setCookieHeaders.length).toBeGreaterThan(0);
      cookie = cookieOf(r.setCookieHeaders);
    }
    advance(20 * MIN + 1000); // 121 min after creation
    expect((await sealed.load(cookie)).user).toBeUndefined();
    expect(events).toContainEqual(expect.objectContaining({ type: 'sealed.expired', kind: 'absolute' }));
  });

  it('SEC-11: login (re-authentication) resets both deadlines and the session id', async () => {
    const { sealed, advance } = setup();
    const s = await sealed.load(undefined);
    await s.save();
    const sid = s.info.sid;
    advance(100 * MIN);
    s.login('user-1');
    await s.save();
    expect(s.info.sid).not.toBe(sid);
    expect(s.info.userId).toBe('user-1');
    const cookie = cookieOf(s.setCookieHeaders);
    advance(29 * MIN); // 129 min after the first creation, 29 after login
    const r = await sealed.load(cookie);
    expect(r.info.userId).toBe('user-1');
  });

  it('SEC-13: expiry ignores cookie attributes; a replayed expired seal stays refused', async () => {
    const { sealed, advance } = setup();
    const s = await sealed.load(undefined);
    s.user = 'ada';
    await s.save();
    expect(s.setCookieHeaders[0]).not.toMatch(/Max-Age|Expires/i); // SEC-8: non-persistent by default
    const cookie = cookieOf(s.setCookieHeaders);
    advance(121 * MIN);
    expect((await sealed.load(cookie)).user).toBeUndefined();
    expect((await sealed.load(cookie)).user).toBeUndefined();
  });

  it('SEC-8: a configured Max-Age never outlives the absolute deadline', async () => {
    let now = 1_000_000;
    const sealed = createSealedSessions({ keys, absoluteTimeout: 3600_000, idleTimeout: 600_000, cookie: { maxAge: 86_400 }, now: () => now });
    const s = await sealed.load(undefined);
    await s.save();
    expect(s.setCookieHeaders[0]).toContain('Max-Age=3600');
    now += 1800_000;
    await s.save();
    expect(s.setCookieHeaders[0]).toContain('Max-Age=1800');
  });
});
