import { describe, expect, it } from 'vitest';
import { issueNonce, consumeNonce, ReplayError } from '../src/csrf/index.js';
import { setup, nextCookie } from './helpers/core.js';

describe('one-time nonces (replay protection for sensitive actions)', () => {
  it('SEC-26: a nonce works once, for its action, within its window', async () => {
    const { manager, clock } = setup();
    const s = await manager.load({});
    s.set('x', 1);
    const { headers } = await manager.commit(s);
    const cookie = nextCookie(headers);

    const a = await manager.load({ cookie });
    const n1 = await issueNonce(a, 'transfer', { clock: clock.now, ttlMs: 60_000 });
    const n2 = await issueNonce(a, 'transfer', { clock: clock.now, ttlMs: 60_000 });
    const n3 = await issueNonce(a, 'email', { clock: clock.now, ttlMs: 60_000 });
    await manager.commit(a);

    const b = await manager.load({ cookie });
    await consumeNonce(b, 'transfer', n1, { clock: clock.now });
    await expect(consumeNonce(b, 'transfer', n1, { clock: clock.now })).rejects.toBeInstanceOf(ReplayError);
    await expect(consumeNonce(b, 'transfer', n3, { clock: clock.now })).rejects.toMatchObject({ code: 'ERR_REPLAY', status: 409 });
    await expect(consumeNonce(b, 'transfer', 'x'.repeat(43), { clock: clock.now })).rejects.toBeInstanceOf(ReplayError);
    await expect(consumeNonce(b, 'transfer', undefined, { clock: clock.now })).rejects.toBeInstanceOf(ReplayError);
    clock.advance(60_001);
    await expect(consumeNonce(b, 'transfer', n2, { clock: clock.now })).rejects.toBeInstanceOf(ReplayError);
  });

  it('SEC-20: two concurrent requests with the same nonce — exactly one succeeds (CAS in the store)', async () => {
    const { manager, clock } = setup();
    const s = await manager.load({});
    const nonce = await issueNonce(s, 'pay', { clock: clock.now });
    const { headers } = await manager.commit(s);
    const cookie = nextCookie(headers);
    // 10 "servers" loaded the session before any of them consumed.
    const loaded = await Promise.all(Array.from({ length: 10 }, () => manager.load({ cookie })));
    const results = await Promise.allSettled(loaded.map((x) => consumeNonce(x, 'pay', nonce, { clock: clock.now })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof ReplayError)).toHaveLength(9);
  });

  it('outstanding nonces are bounded per session', async () => {
    const { manager, clock } = setup();
    const s = await manager.load({});
    const first = await issueNonce(s, 'a', { clock: clock.now, max: 3 });
    for (let i = 0; i < 3; i++) await issueNonce(s, 'a', { clock: clock.now, max: 3 });
    expect(Object.keys(s.data.__sw_nonce as object)).toHaveLength(3);
    await expect(consumeNonce(s, 'a', first, { clock: clock.now })).rejects.toBeInstanceOf(ReplayError);
  });
});
