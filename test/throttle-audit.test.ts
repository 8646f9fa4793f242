/**
 * The invalid-token throttle (SEC-42 bookkeeping) and the audit trail (SEC-41 hashing) on their
 * own; the manager-level behaviour (events, the 429 with a cleared cookie) is in events.test.ts
 * and lifecycle-hardening.
 */
import { describe, it, expect } from 'vitest';
import { InvalidTokenThrottle } from '../src/core/throttle.js';
import { AuditTrail } from '../src/core/audit.js';
import { webCrypto } from '../src/crypto/web.js';
import type { SessionEvent } from '../src/index.js';

describe('invalid-token throttle', () => {
  it('counts per source: silent up to the limit, one alert when crossing it, a retry-after until the window ends', () => {
    const t = new InvalidTokenThrottle({ max: 2, windowMs: 10_000, action: 'throttle' });
    expect(t.hit('1.1.1.1', 0)).toBeNull();
    expect(t.hit('1.1.1.1', 1000)).toBeNull();
    expect(t.hit('2.2.2.2', 1000)).toBeNull();
    expect(t.hit('1.1.1.1', 2000)).toEqual({ count: 3, alert: true, retryAfter: 8 });
    expect(t.hit('1.1.1.1', 9500)).toEqual({ count: 4, alert: false, retryAfter: 1 });
    // A new window starts from zero.
    expect(t.hit('1.1.1.1', 10_001)).toBeNull();
  });

  it("with action 'alert' it reports but never refuses", () => {
    const t = new InvalidTokenThrottle({ max: 0, windowMs: 10_000, action: 'alert' });
    expect(t.hit('ip', 0)).toEqual({ count: 1, alert: true, retryAfter: null });
  });
});

describe('audit trail', () => {
  it('hashes ids with its key: stable for one key, different for another, never the id itself', async () => {
    const a = new AuditTrail(webCrypto, () => 0, undefined, new Uint8Array(32).fill(1));
    const b = new AuditTrail(webCrypto, () => 0, undefined, new Uint8Array(32).fill(2));
    const id = 'store-id-0123456789';
    expect(await a.sid(id)).toBe(await a.sid(id));
    expect(await a.sid(id)).not.toBe(await b.sid(id));
    expect(await a.sid(id)).not.toContain(id);
    expect((await a.sid(id)).length).toBe(22);
  });

  it('emits events with a hashed sid and no undefined fields; a throwing sink never breaks the caller', async () => {
    const got: SessionEvent[] = [];
    const trail = new AuditTrail(webCrypto, () => Date.UTC(2026, 0, 1), (e) => got.push(e), new Uint8Array(32));
    await trail.emit('session.created', 'the-id', { userId: 'u', ip: undefined });
    expect(got).toEqual([{ type: 'session.created', at: '2026-01-01T00:00:00.000Z', userId: 'u', sid: await trail.sid('the-id') }]);
    const throwing = new AuditTrail(webCrypto, () => 0, () => {
      throw new Error('sink down');
    });
    await expect(throwing.emit('session.created', null, {})).resolves.toBeUndefined();
  });

  it('firstTime is true once per key', () => {
    const trail = new AuditTrail(webCrypto, () => 0, undefined);
    expect(trail.firstTime('k')).toBe(true);
    expect(trail.firstTime('k')).toBe(false);
    expect(trail.firstTime('other')).toBe(true);
  });
});
