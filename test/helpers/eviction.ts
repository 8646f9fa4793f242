/**
 * Test harness for issue 19: ordinary session traffic into a small-`maxmemory` Redis until it
 * evicts (or refuses writes), then counts what came back: revoked credentials accepted again,
 * sessions that "log out everywhere" left alive, logged-out sessions that load again.
 *
 * Uses only public API (SessionManager, RedisStore, Revocation), so the same scenario measures
 * any version of the store.
 */
import { randomBytes } from 'node:crypto';
import { SessionManager } from '../../src/index.js';
import type { SessionRecord, SessionStore } from '../../src/stores/types.js';
import { Revocation } from '../../src/stateless/revocation.js';
import { SECRET, nextCookie } from './core.js';

export const DENIED = 120;
export const CUT_USERS = 40;
export const INDEXED_USERS = 20;
export const SESSIONS_PER_USER = 5;
export const LOGGED_OUT = 40;

export interface Counts {
  /** Denylisted credentials (sealed sid / JWT jti / sid of a reused refresh family) accepted again. */
  deniedAccepted: number;
  /** Credentials issued before their user's cut-off accepted again. */
  cutAccepted: number;
  /** Sessions still loadable after "log out everywhere" of their user. */
  survivedLogoutEverywhere: number;
  /** Sessions that load again after logout. */
  loggedOutBack: number;
  /** Sessions written by the fill (attempted) and evicted keys reported by Redis. */
  filled: number;
  evicted: number;
  /** The fill ended on a refused write (noeviction / only unevictable keys left). */
  refusedWrite: unknown;
}

const ISSUED = 1000;

function fillRecord(now: number, i: number): SessionRecord {
  const id = randomBytes(32).toString('base64url').slice(0, 43);
  return {
    id,
    userId: `fill-${i % 997}`,
    data: { cart: 'x'.repeat(300), n: i },
    version: 1,
    createdAt: now,
    lastSeenAt: now,
    authTime: now,
    absoluteExpiresAt: now + 24 * 3600_000,
    // Longer than the denylist entries below, so volatile-ttl prefers those.
    expiresAt: now + 2 * 3600_000,
    meta: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) eviction-test', ip: '127.0.0.1' },
    rotatedTo: null,
  };
}

export interface Scenario {
  manager: SessionManager<Record<string, unknown>>;
  revocation: Revocation;
  denied: Array<{ id: string; userId: string }>;
  /** When the cut-offs were set: credentials issued before are revoked. */
  cutAt: number;
  cutUsers: string[];
  /** user -> cookies of their sessions */
  indexed: Map<string, string[]>;
  loggedOut: string[];
}

async function login(manager: SessionManager<Record<string, unknown>>, userId: string): Promise<string> {
  const s = await manager.load({});
  await s.login(userId);
  return nextCookie((await manager.commit(s)).headers);
}

async function loadsAs(manager: SessionManager<Record<string, unknown>>, cookie: string): Promise<string | null> {
  const s = await manager.load({ cookie });
  return s.userId ?? null;
}

/** Revocation state and sessions written before the memory fills. */
export async function prepare(store: SessionStore, tag: string): Promise<Scenario> {
  const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET] });
  const revocation = new Revocation({ store });
  const now = Date.now();
  const denied: Array<{ id: string; userId: string }> = [];
  for (let i = 0; i < DENIED; i++) denied.push({ id: `${tag}-jti-${i}`, userId: `${tag}-user-${i % 50}` });
  // A JWT's denylist entry lives as long as the token: 10 minutes, shorter than any session.
  await Promise.all(denied.map((d) => revocation.revokeSession(d.id, now + 600_000, d.userId)));
  const cutUsers: string[] = [];
  for (let i = 0; i < CUT_USERS; i++) cutUsers.push(`${tag}-cut-${i}`);
  await Promise.all(cutUsers.map((u) => revocation.revokeUser(u, now)));
  const indexed = new Map<string, string[]>();
  await Promise.all(
    Array.from({ length: INDEXED_USERS }, async (_, u) => {
      const user = `${tag}-idx-${u}`;
      indexed.set(user, await Promise.all(Array.from({ length: SESSIONS_PER_USER }, () => login(manager, user))));
    }),
  );
  const loggedOut = await Promise.all(
    Array.from({ length: LOGGED_OUT }, async (_, i) => {
      const c = await login(manager, `${tag}-out-${i}`);
      const s = await manager.load({ cookie: c });
      await s.destroy();
      await manager.commit(s);
      return c;
    }),
  );
  return { manager, revocation, denied, cutAt: now, cutUsers, indexed, loggedOut };
}

async function evictedKeys(info: () => Promise<string>): Promise<number> {
  return Number(/evicted_keys:(\d+)/.exec(await info())?.[1] ?? 0);
}

/**
 * Ordinary session traffic (logins with a cart and device metadata), pipelined, until Redis has
 * evicted for a while (`evicted_keys` > 0 and then as many sessions again as it took to get there)
 * or refuses a write. `info` returns `INFO stats` (summed over masters on a cluster).
 */
export async function fill(store: SessionStore, info: () => Promise<string>, maxSessions = 60_000, batchSize = 500): Promise<{ filled: number; evicted: number; refusedWrite: unknown }> {
  const now = Date.now();
  let i = 0;
  let until = maxSessions;
  let refusedWrite: unknown;
  while (i < until) {
    const batch: Array<Promise<boolean>> = [];
    for (let k = 0; k < batchSize; k++, i++) batch.push(store.create(fillRecord(now, i)));
    const results = await Promise.allSettled(batch);
    const bad = results.find((r) => r.status === 'rejected');
    if (bad) {
      refusedWrite = (bad as PromiseRejectedResult).reason;
      break;
    }
    if (until === maxSessions && (await evictedKeys(info)) > 0) until = Math.min(maxSessions, i * 2);
  }
  return { filled: i, evicted: await evictedKeys(info), refusedWrite };
}

/** What came back after the fill. */
export async function count(sc: Scenario, store: SessionStore): Promise<Omit<Counts, 'filled' | 'evicted' | 'refusedWrite'>> {
  const issuedAt = sc.cutAt - ISSUED;
  const tally = async (checks: Array<Promise<boolean>>): Promise<number> => (await Promise.all(checks)).filter(Boolean).length;
  const deniedAccepted = await tally(sc.denied.map(async (d) => !(await sc.revocation.isRevoked({ ...d, issuedAt: Date.now() }))));
  const cutAccepted = await tally(sc.cutUsers.map(async (u) => !(await sc.revocation.isRevoked({ id: `${u}-old`, userId: u, issuedAt }))));
  await Promise.all([...sc.indexed.keys()].map((user) => store.deleteByUser(user)));
  const survivedLogoutEverywhere = await tally([...sc.indexed.values()].flat().map(async (c) => (await loadsAs(sc.manager, c)) !== null));
  const loggedOutBack = await tally(sc.loggedOut.map(async (c) => (await loadsAs(sc.manager, c)) !== null));
  return { deniedAccepted, cutAccepted, survivedLogoutEverywhere, loggedOutBack };
}
