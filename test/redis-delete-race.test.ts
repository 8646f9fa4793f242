/**
 * "Log out everywhere" racing a rotation on Redis (found by the lifecycle model test): the
 * rotation indexes its successor after deleteByUser has read the index, then turns the old
 * session into a pointer that deleteByUser still deletes. The successor must not survive.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { createClient } from 'redis';
import { SessionManager } from '../src/index.js';
import { RedisStore } from '../src/stores/redis.js';
import { SECRET, nextCookie } from './helpers/core.js';

const real = createClient({ url: 'redis://127.0.0.1:6379' });
real.on('error', () => {});
const prefix = `swt:race:${randomBytes(4).toString('hex')}:`;
afterAll(async () => {
  const keys = await real.keys(`${prefix}*`);
  if (keys.length) await real.del(keys);
  await real.quit();
});

it('SEC-38: a session renewed while deleteByUser runs does not survive it', async () => {
  await real.connect();
  let afterIndexRead: (() => Promise<void>) | null = null;
  // The real client, with a hook that runs a whole rotation right after the index was read.
  const client = {
    get isReady() {
      return real.isReady;
    },
    async sendCommand(args: string[]) {
      const r = await real.sendCommand(args);
      if (args[0] === 'ZRANGE' && afterIndexRead) {
        const h = afterIndexRead;
        afterIndexRead = null;
        await h();
      }
      return r;
    },
  };
  const manager = new SessionManager({ store: new RedisStore({ client, prefix }), secrets: [SECRET] });
  const s0 = await manager.load({});
  await s0.login('alice');
  const cookie = nextCookie((await manager.commit(s0)).headers);
  let next = '';
  afterIndexRead = async () => {
    const s = await manager.load({ cookie });
    await s.renew();
    next = nextCookie((await manager.commit(s)).headers);
  };
  await manager.destroyUserSessions('alice');
  expect(next).not.toBe('');
  expect((await manager.load({ cookie: next })).userId).toBeNull();
  expect(await manager.listUserSessions('alice')).toEqual([]);
});
