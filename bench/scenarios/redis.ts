/**
 * Redis rows, on a redis-server this scenario starts itself (never the shared 6379) and kills:
 * - redis-commands-per-read: commands Redis executed per authenticated read (INFO commandstats diff)
 * - redis-bytes-per-session: MEMORY USAGE of a fresh empty session
 * - redis-list-user-sessions: listing one user's 5 sessions with 10k and with 1M sessions in Redis
 * - http-read-redis / http-write-redis: bare node:http vs node:http + sessionward on RedisStore,
 *   beside a floor server that does exactly one Redis GET per request (reads) or one GET and one
 *   SET (writes): the least any server keeping sessions in Redis must do
 * - contended-write-redis: 32 connections writing one session
 * - contended-keys-redis: 32 connections writing one key each of one session (store.patch vs the
 *   compare-and-set path)
 * - lost-updates-redis: 200 concurrent HTTP `session.update` increments of one session
 */
import { createClient } from 'redis';
import { SessionManager } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { encodeRecord } from '../../src/stores/redis-codec.js';
import { makeRecord } from '../../src/testing/conformance.js';
import { cli, startRedis } from '../../test/helpers/redis-server.js';
import http from 'node:http';
import { contendedKeyRows, contendedRows, httpRows, lostUpdates } from '../lib/session-server.js';
import { alsoCountRedis, compare } from '../lib/http.js';
import type { BenchContext, Scenario } from '../lib/types.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

// The client type as these options make it (ReturnType of the generic factory alone is a wider type
// that node-redis 6's own clients are not assignable to).
function connectClient(port: number, ctx: BenchContext) {
  const c = createClient({ url: `redis://127.0.0.1:${port}`, disableOfflineQueue: true });
  c.on('error', (e) => ctx.log(`redis client: ${String(e)}`));
  return c;
}
type Client = ReturnType<typeof connectClient>;

async function commandCalls(port: number): Promise<number> {
  let total = 0;
  for (const line of (await cli(port, 'INFO', 'commandstats')).split('\n')) {
    const m = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line.trim());
    if (m && m[1] !== 'info') total += Number(m[2]);
  }
  return total;
}

/**
 * Bulk loader: `count` sessions of 5 per filler user, written by one Lua call per batch so that a
 * million sessions take seconds. Values are real encoded records (the same bytes the store writes).
 */
const BULK = `
local pre, post, prefix, start, count, exp, abs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
for i = start, start + count - 1 do
  local id = string.format('f%042d', i)
  local user = 'filler' .. math.floor(i / 5)
  redis.call('SET', prefix .. 's:' .. id, pre .. user .. post, 'PXAT', exp)
  redis.call('ZADD', prefix .. 'u:' .. user, abs, id)
  redis.call('PEXPIREAT', prefix .. 'u:' .. user, abs)
end
return count
`;

async function fill(client: Client, prefix: string, from: number, to: number): Promise<void> {
  const now = Date.now();
  const tpl = encodeRecord(makeRecord(now, { userId: '@@USER@@', meta: {}, absoluteExpiresAt: now + 7_200_000, expiresAt: now + 3_600_000 }));
  const [pre, post] = tpl.split('@@USER@@') as [string, string];
  // the placeholder sits inside the JSON string quotes, so pre ends with '"' and post starts with '"'
  for (let i = from; i < to; i += 50_000) {
    const n = Math.min(50_000, to - i);
    await client.sendCommand(['EVAL', BULK, '0', pre, post, prefix, String(i), String(n), String(now + 3_600_000), String(now + 7_200_000)]);
  }
}

/**
 * Listings per second of one connection, from the median latency of sequential calls: the median
 * shrugs off stalls of a shared two-core machine that a plain count over a window would absorb.
 */
async function listRate(store: RedisStore, user: string, ms: number): Promise<number> {
  for (let i = 0; i < 200; i++) await store.listByUser(user, Date.now());
  const lat: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    const list = await store.listByUser(user, Date.now());
    lat.push(performance.now() - t);
    if (list.length !== 5) throw new Error(`expected 5 sessions, got ${list.length}`);
  }
  lat.sort((a, b) => a - b);
  return Math.round(1000 / lat[Math.floor(lat.length / 2)]!);
}

async function storeRows(ctx: BenchContext, port: number, client: Client): Promise<void> {
  if (!ctx.wants('redis-commands-per-read') && !ctx.wants('redis-bytes-per-session') && !ctx.wants('redis-list-user-sessions')) return;
  const store = new RedisStore({ client, prefix: 'b:' });
  const now = Date.now();

  // commands per authenticated read, end to end: engine load + commit with a valid cookie
  const manager = new SessionManager({ store, secrets: [SECRET] });
  const s0 = await manager.load({});
  await s0.login('reader');
  const cookie = (await manager.commit(s0)).headers.find(([k]) => k === 'set-cookie')![1].split(';')[0]!;
  const reads = 10_000;
  const c0 = await commandCalls(port);
  for (let i = 0; i < reads; i++) {
    const s = await manager.load({ cookie });
    if (s.isNew) throw new Error('session lost');
    await manager.commit(s);
  }
  const c1 = await commandCalls(port);
  ctx.report({ scenario: 'redis-commands-per-read', subject: 'sessionward', commands: round((c1 - c0) / reads) });

  // bytes per fresh empty session (no data, no device metadata)
  const empty = makeRecord(now, { meta: {} });
  await store.create(empty);
  const bytes = Number(await client.sendCommand(['MEMORY', 'USAGE', store.sessionKey(empty.id), 'SAMPLES', '0']));
  ctx.report({ scenario: 'redis-bytes-per-session', subject: 'sessionward', bytes });
  const withMeta = makeRecord(now, { meta: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36', ip: '203.0.113.7' } });
  await store.create(withMeta);
  const bytesUa = Number(await client.sendCommand(['MEMORY', 'USAGE', store.sessionKey(withMeta.id), 'SAMPLES', '0']));
  ctx.report({ scenario: 'redis-bytes-per-session', subject: 'sessionward-with-user-agent', bytes: bytesUa });

  // Listing one user's sessions must not depend on how many sessions Redis holds: two servers,
  // one with 10k and one with 1M sessions, measured in interleaved rounds (median of 3).
  if (!ctx.wants('redis-list-user-sessions')) return;
  const bigServer = await startRedis();
  const bigClient = connectClient(bigServer.port, ctx);
  await bigClient.connect();
  try {
    const smallStore = new RedisStore({ client, prefix: 'l:' });
    const bigStore = new RedisStore({ client: bigClient, prefix: 'l:' });
    const target = 'target-user';
    for (const st of [smallStore, bigStore]) {
      for (let i = 0; i < 5; i++) await st.create(makeRecord(now, { userId: target, data: { i } }));
    }
    const t0 = performance.now();
    await fill(client, 'l:', 0, 10_000);
    await fill(bigClient, 'l:', 0, 1_000_000);
    ctx.log(`redis: ${await client.dbSize()} and ${await bigClient.dbSize()} keys, filled in ${Math.round(performance.now() - t0)} ms`);
    // ratio: lists per second with 10k sessions over those with 1M (1 = size does not matter)
    await compare(ctx, 'redis-list-user-sessions', {
      'sessionward-1m': async (seconds) => ({ opsPerSec: await listRate(bigStore, target, Math.max(1000, seconds * 1000)) }),
      'sessionward-10k': async (seconds) => ({ opsPerSec: await listRate(smallStore, target, Math.max(1000, seconds * 1000)) }),
    }, { baseline: 'sessionward-1m' });
  } finally {
    await bigClient.quit().catch(() => {});
    await bigServer.stop();
  }
  await client.flushAll();
}

/**
 * One Redis GET per request (and a SET for writes) of a 160-byte value, answered like the session
 * server answers: the floor under any Redis-backed session read or write.
 */
function floorServer(client: Client, write: boolean): http.Server {
  const body = JSON.stringify({ ok: true });
  return http.createServer(async (_req, res) => {
    const v = await client.get('floor:s');
    if (write) await client.set('floor:s', v ?? '', { PX: 3_600_000 });
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
}

async function httpRedisRows(ctx: BenchContext, client: Client): Promise<void> {
  const store = new RedisStore({ client, prefix: 'h:' });
  const untrack = await alsoCountRedis(client);
  await client.set('floor:s', 'x'.repeat(160), { PX: 3_600_000 });
  await httpRows(ctx, store, 'redis', { floor: { read: () => floorServer(client, false), write: () => floorServer(client, true) } });
  await contendedRows(ctx, new RedisStore({ client, prefix: 'c:' }), 'redis');
  await contendedKeyRows(ctx, () => new RedisStore({ client, prefix: 'k:' }), 'redis');
  if (!ctx.wants('lost-updates-redis')) return untrack();
  untrack();
  const lost = await lostUpdates(store);
  ctx.report({ scenario: 'lost-updates-redis', subject: 'sessionward', sent: lost.sent, kept: lost.kept });
}

const scenario: Scenario = async (ctx) => {
  const server = await startRedis();
  const client = connectClient(server.port, ctx);
  await client.connect();
  try {
    await storeRows(ctx, server.port, client);
    await httpRedisRows(ctx, client);
  } finally {
    await client.quit().catch(() => {});
    await server.stop();
  }
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export default scenario;
