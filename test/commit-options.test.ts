/**
 * What adapters ask of `commit` is an option of commit (issue 22), not a flag poked into the
 * Session: express-session's saveUninitialized and rolling.
 */
import { describe, it, expect } from 'vitest';
import { setup, nextCookie, setCookies } from './helpers/core.js';

describe('commit options', () => {
  it('saveEmpty stores a new session that holds no data and sends its cookie; without it nothing is stored', async () => {
    const { manager, store, clock } = setup();
    const plain = await manager.load({});
    expect((await manager.commit(plain)).headers).toEqual([]);
    expect(plain.isNew).toBe(true);

    const kept = await manager.load({});
    const cookie = nextCookie((await manager.commit(kept, { saveEmpty: true })).headers);
    expect(cookie).not.toBe('');
    expect(kept.isNew).toBe(false);
    expect(await store.get(kept.id!, clock.t)).toMatchObject({ data: {}, version: 1 });
    expect((await manager.load({ cookie })).id).toBe(kept.id);
  });

  it('reissueCookie sends the cookie of an existing session again on a read-only request, and only then', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    s.set('k', 1);
    const cookie = nextCookie((await manager.commit(s)).headers);

    const read = await manager.load({ cookie });
    expect(setCookies((await manager.commit(read)).headers)).toHaveLength(0);
    const rolling = await manager.load({ cookie });
    const sent = setCookies((await manager.commit(rolling, { reissueCookie: true })).headers);
    expect(sent).toHaveLength(1);
    expect(`${sent[0]!.name}=${sent[0]!.value}`).toBe(cookie);
    // A request without a session has no cookie to send again.
    expect(setCookies((await manager.commit(await manager.load({}), { reissueCookie: true })).headers)).toHaveLength(0);
  });
});
