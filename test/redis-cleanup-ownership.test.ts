/**
 * Issue 21: Redis cleanup() touches only keys it can prove are its own, and removing a stale index
 * entry can never hide a login still in flight, whatever the grace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { RedisStore } from '../src/stores/redis.js';
import { makeRecord } from '../src/testing/conformance.js';

const RUN = `swco:${randomBytes(4).toString('hex')}:`;
let admin: ReturnType<typeof createClient>;

beforeAll(async () => {
  admin = createClient({ url: 'redis://127.0.0.1:6379' });
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  const keys = await admin.keys(`${RUN}*`);
  if (keys.length) await admin.del(keys);
  await admin.quit();
});

describe('RedisStore.cleanup ownership (issue 21)', () => {
  it("leaves the application's own sorted sets under the prefix alone (a leaderboard, a schedule)", async () => {
    const prefix = `${RUN}own:`;
    const store = new RedisStore({ client: admin, prefix, cleanupGraceMs: 0 });
    const now = Date.now();
    await admin.zAdd(`${prefix}u:leaderboard`, [{ score: 10, value: 'alice' }, { score: 3, value: 'bob' }]);
    await admin.zAdd(`${prefix}u:schedule`, [{ score: now + 3_600_000, value: 'job-1' }, { score: now + 7_200_000, value: 'job-2' }]);
    // Shaped like ids but scored like no session: still not ours.
    await admin.zAdd(`${prefix}u:ratings`, [{ score: 4.5, value: 'x'.repeat(43) }]);
    const stale = makeRecord(now, { userId: 'real' });
    expect(await store.create(stale)).toBe(true);
    await admin.del(store.sessionKey(stale.id));
    expect(await store.cleanup(now + 1000, 1000)).toBe(1);
    expect(await admin.zRangeWithScores(`${prefix}u:leaderboard`, 0, -1)).toEqual([{ value: 'bob', score: 3 }, { value: 'alice', score: 10 }]);
    expect(await admin.zCard(`${prefix}u:schedule`)).toBe(2);
    expect(await admin.pTTL(`${prefix}u:schedule`)).toBe(-1);
    expect(await admin.zCard(`${prefix}u:ratings`)).toBe(1);
  });

  it('SEC-38: a login slower than the cleanup grace (long command timeout) fails instead of landing outside its index', async () => {
    const prefix = `${RUN}slow:`;
    // The app's client: its SET (the second write of a login) is held back 600 ms, within its
    // own 5 s command timeout, but longer than the grace of the cleanup run below.
    const slow = {
      isReady: true,
      sendCommand: async (args: string[]) => {
        if (args[0] === 'SET') await new Promise((r) => setTimeout(r, 600));
        return admin.sendCommand(args);
      },
    };
    const app = new RedisStore({ client: slow, prefix, commandTimeoutMs: 5000 });
    const cron = new RedisStore({ client: admin, prefix, cleanupGraceMs: 100 });
    const now = Date.now();
    const r = makeRecord(now, { userId: 'alice' });
    const login = app.create(r).catch((e: unknown) => e);
    await new Promise((res) => setTimeout(res, 150)); // index entry written, SET still in flight
    await cron.cleanup(Date.now(), 1000);
    await login;
    // Whatever the outcome, a live session is never missing from its owner's index.
    const live = await app.get(r.id, Date.now());
    if (live) expect((await app.listByUser('alice', Date.now())).map((x) => x.id)).toContain(r.id);
    expect(await app.deleteByUser('alice')).toBeGreaterThanOrEqual(0);
    expect(await app.get(r.id, Date.now())).toBeNull();
  });
});
