import { describe, it, expect } from 'vitest';
import { MemoryStore, SessionManager } from '../src/index.js';
import { setup, nextCookie, FakeClock, SECRET } from './helpers/core.js';

async function device(manager: SessionManager<any>, user: string, ua: string, ip: string) {
  const s = await manager.load({ userAgent: ua, ip });
  await s.login(user);
  return nextCookie((await manager.commit(s)).headers);
}

describe('per-user sessions', () => {
  it('SEC-39: users list their sessions with device metadata and end one', async () => {
    const { manager, clock } = setup({ touchAfter: 1000 });
    const laptop = await device(manager, 'u', 'Firefox/130', '10.0.0.1');
    clock.advance(1000);
    const phone = await device(manager, 'u', 'Mobile Safari', '10.0.0.2');
    await device(manager, 'someone-else', 'curl', '10.0.0.9');
    const s = await manager.load({ cookie: laptop });
    const list = await s.listSessions();
    expect(list).toHaveLength(2);
    const mine = list.find((d) => d.current)!;
    expect(mine.userAgent).toBe('Firefox/130');
    expect(mine.ip).toBe('10.0.0.1');
    const other = list.find((d) => !d.current)!;
    expect(other.userAgent).toBe('Mobile Safari');
    expect(other.createdAt).toBeGreaterThan(mine.createdAt);
    expect(await s.destroySession(other.id)).toBe(true);
    expect((await manager.load({ cookie: phone })).isNew).toBe(true);
    // cannot end someone else's session by id
    const foreign = (await manager.listUserSessions('someone-else'))[0]!;
    expect(await s.destroySession(foreign.id)).toBe(false);
    expect(await manager.listUserSessions('someone-else')).toHaveLength(1);
  });

  it('SEC-38: after a password change the 2 other sessions are rejected, this one stays', async () => {
    const { manager } = setup();
    const a = await device(manager, 'u', 'A', '1.1.1.1');
    const b = await device(manager, 'u', 'B', '1.1.1.2');
    const c = await device(manager, 'u', 'C', '1.1.1.3');
    const s = await manager.load({ cookie: a });
    expect(await s.destroyOtherSessions()).toBe(2);
    expect((await manager.load({ cookie: b })).isNew).toBe(true);
    expect((await manager.load({ cookie: c })).isNew).toBe(true);
    expect((await manager.load({ cookie: a })).userId).toBe('u');
  });

  it('SEC-38: disabling an account ends all its sessions', async () => {
    const { manager } = setup();
    const cookies = [await device(manager, 'v', 'A', '1'), await device(manager, 'v', 'B', '2')];
    expect(await manager.destroyUserSessions('v')).toBe(2);
    for (const c of cookies) expect((await manager.load({ cookie: c })).isNew).toBe(true);
  });

  it('SEC-39: revocation holds on every server instance sharing the store', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ clock: clock.now });
    const one = new SessionManager({ store, secrets: [SECRET], clock: clock.now });
    const two = new SessionManager({ store, secrets: [SECRET], clock: clock.now });
    const cookie = await device(one, 'w', 'A', '1');
    expect((await two.load({ cookie })).userId).toBe('w');
    await one.destroyUserSessions('w');
    expect((await two.load({ cookie })).isNew).toBe(true);
  });
});
