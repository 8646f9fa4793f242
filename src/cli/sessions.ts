/**
 * `sessionward sessions list|revoke|stats`: look at and end sessions in a store from the
 * terminal. Session ids are SHA-256 hashes of tokens (the store never holds a token), so what is
 * shown cannot be replayed.
 */
import type { CliIo } from './io.js';
import { openStoreUrl, type StoreTarget } from './store-url.js';
import { UsageError } from './cleanup.js';
import type { SessionRecord } from '../stores/types.js';

export interface SessionsArgs extends StoreTarget {
  store?: string;
  user?: string;
  json: boolean;
}

function row(r: SessionRecord): Record<string, unknown> {
  return {
    id: r.id,
    createdAt: new Date(r.createdAt).toISOString(),
    lastSeenAt: new Date(r.lastSeenAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    ...(r.meta ? { meta: r.meta } : {}),
  };
}

/**
 * @example
 * await runSessions('list', { store: 'redis://127.0.0.1:6379', user: 'u1', json: true }, io)
 */
export async function runSessions(action: 'list' | 'revoke' | 'stats', a: SessionsArgs, io: CliIo): Promise<number> {
  if (a.store === undefined) throw new UsageError('--store <url> is required (postgres://, redis://, rediss:// or sqlite:<file>)');
  if (action !== 'stats' && (a.user === undefined || a.user === '')) throw new UsageError(`sessions ${action} needs --user <id>`);
  const o = await openStoreUrl(a.store, a);
  try {
    const now = Date.now();
    if (action === 'list') {
      const rows = (await o.store.listByUser(a.user!, now)).sort((x, y) => y.lastSeenAt - x.lastSeenAt);
      if (a.json) io.out(JSON.stringify({ user: a.user, sessions: rows.map(row) }));
      else {
        io.out(`${rows.length} live session(s) of ${a.user}`);
        for (const r of rows) io.out(`  ${r.id.slice(0, 12)}…  last seen ${new Date(r.lastSeenAt).toISOString()}  expires ${new Date(r.expiresAt).toISOString()}`);
      }
    } else if (action === 'revoke') {
      const revoked = await o.store.deleteByUser(a.user!);
      io.out(a.json ? JSON.stringify({ user: a.user, revoked }) : `revoked ${revoked} session(s) of ${a.user}`);
    } else {
      if (typeof o.store.count !== 'function') throw new Error(`the ${o.kind} store keeps no count of live sessions (its keys expire by TTL)`);
      const live = await o.store.count(now);
      io.out(a.json ? JSON.stringify({ store: o.kind, live }) : `${live} live session(s) in ${o.kind}`);
    }
    return 0;
  } finally {
    await o.close().catch(() => undefined);
  }
}
