import { it } from 'vitest';
import { createClient } from 'redis';
import { startRedis, cli } from '../helpers/redis-server.js';
const which = process.env.WHICH ?? 'new';
for (const policy of ['allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-ttl', 'noeviction']) {
  it(policy, async () => {
    const { RedisStore } = await import(which === 'old' ? './old/src/stores/redis.js' : '../../src/stores/redis.js');
    const { prepare, fill, count } = await import(which === 'old' ? './old/test/helpers/eviction.js' : '../helpers/eviction.js');
    const srv = await startRedis({ extraArgs: ['--maxmemory', '2mb', '--maxmemory-policy', policy] });
    const client = createClient({ url: `redis://127.0.0.1:${srv.port}`, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    const store = new RedisStore({ client, prefix: 'ev:', unsafeAllowAllkeysEviction: true });
    const sc = await prepare(store, 'p');
    const f = await fill(store, () => cli(srv.port, 'INFO', 'stats'));
    const at: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries({
      revokeSession: () => sc.revocation.revokeSession('late', Date.now() + 600_000, 'lu'),
      revokeUser: () => sc.revocation.revokeUser('lu2'),
      deleteByUser: () => store.deleteByUser([...sc.indexed.keys()][1]),
      logout: async () => { const s = await sc.manager.load({ cookie: [...sc.indexed.values()][0][0] }); await s.destroy(); await sc.manager.commit(s); },
    })) { try { await fn(); at[name] = 'ok'; } catch (e) { at[name] = (e as any).code; } }
    const c = await count(sc, store).catch((e: any) => ({ err: String(e.code) }));
    console.log(`${which} ${policy}`, JSON.stringify({ ...c, filled: f.filled, evicted: f.evicted, refused: f.refusedWrite ? String((f.refusedWrite as any).code) : null, atLimit: at }));
    await client.destroy();
    await srv.stop();
  }, 120_000);
}
