import { describe, it, expect } from 'vitest';
import { ThrottledError } from '../src/index.js';
import { setup, nextCookie } from './helpers/core.js';

describe('events and monitoring', () => {
  it('SEC-40: lifecycle events carry UTC timestamps', async () => {
    const { manager, events } = setup({ idleTimeout: 60_000, absoluteTimeout: 3_600_000 });
    const s = await manager.load({ ip: '203.0.113.5', userAgent: 'UA' });
    s.set('a', 1);
    const c1 = nextCookie((await manager.commit(s)).headers);
    const s2 = await manager.load({ cookie: c1 });
    await s2.login('u');
    const c2 = nextCookie((await manager.commit(s2)).headers, c1);
    await manager.load({ cookie: '__Host-sid=garbage' });
    const s3 = await manager.load({ cookie: c2 });
    await s3.destroy();
    const types = events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['session.created', 'session.rotated', 'token.invalid', 'session.destroyed']));
    for (const e of events) expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const created = events.find((e) => e.type === 'session.created')!;
    expect(created.ip).toBe('203.0.113.5');
    const rotated = events.find((e) => e.type === 'session.rotated')!;
    expect(rotated.sid).toBeDefined();
    expect(rotated.newSid).toBeDefined();
    expect(rotated.sid).not.toBe(rotated.newSid);
  });

  it('SEC-41: events carry a keyed hash of the session, never the token or the store id', async () => {
    const { manager, events } = setup();
    const s = await manager.load({});
    await s.login('u');
    const cookie = nextCookie((await manager.commit(s)).headers);
    const token = cookie.split('=')[1]!.split('.')[0]!;
    const s2 = await manager.load({ cookie });
    await s2.destroy();
    const dump = JSON.stringify(events);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(s.id!);
    const destroyed = events.find((e) => e.type === 'session.destroyed')!;
    expect(destroyed.sid).toBe(await manager.sid(s.id!));
  });

  it('SEC-42: many invalid tokens from one source raise one alert, and can be throttled', async () => {
    const alerting = setup({ invalidTokenLimit: { max: 5, windowMs: 60_000 } });
    for (let i = 0; i < 20; i++) await alerting.manager.load({ cookie: `__Host-sid=bad${i}`, ip: '198.51.100.7' });
    const alerts = alerting.events.filter((e) => e.type === 'alert.invalid_tokens');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.ip).toBe('198.51.100.7');
    // another source is unaffected
    await alerting.manager.load({ cookie: '__Host-sid=bad', ip: '198.51.100.8' });
    expect(alerting.events.filter((e) => e.type === 'alert.invalid_tokens')).toHaveLength(1);

    const throttling = setup({ invalidTokenLimit: { max: 3, windowMs: 60_000, action: 'throttle' } });
    for (let i = 0; i < 3; i++) await throttling.manager.load({ cookie: '__Host-sid=x', ip: '1.2.3.4' });
    await expect(throttling.manager.load({ cookie: '__Host-sid=x', ip: '1.2.3.4' })).rejects.toThrow(ThrottledError);
    throttling.clock.advance(60_001);
    await expect(throttling.manager.load({ cookie: '__Host-sid=x', ip: '1.2.3.4' })).resolves.toBeDefined();
  });

  it('a throwing event sink never breaks a request', async () => {
    const { manager } = setup({ onEvent: () => { throw new Error('sink down'); } });
    const s = await manager.load({});
    await s.login('u');
    await expect(manager.commit(s)).resolves.toBeDefined();
  });
});

describe('risk signals', () => {
  it('SEC-35: a new IP or browser raises one risk event per change and never ends the session', async () => {
    const { manager, events } = setup();
    const s = await manager.load({ ip: '10.0.0.1', userAgent: 'Firefox' });
    await s.login('u');
    const cookie = nextCookie((await manager.commit(s)).headers);
    const same = await manager.load({ cookie, ip: '10.0.0.1', userAgent: 'Firefox' });
    expect(same.riskSignals).toEqual([]);
    for (let i = 0; i < 3; i++) {
      const moved = await manager.load({ cookie, ip: '192.0.2.9', userAgent: 'curl/8' });
      expect(moved.riskSignals).toEqual(['ip_change', 'ua_change']);
      expect(moved.userId).toBe('u');
    }
    const anomalies = events.filter((e) => e.type === 'session.anomaly');
    expect(anomalies.map((e) => e.reason).sort()).toEqual(['ip_change', 'ua_change']);
    expect(anomalies[0]!.sid).toBeDefined();
  });
});
