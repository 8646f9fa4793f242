/**
 * @internal The record protocol: how sessions live in a store that offers only get, create,
 * compare-and-set `update` and delete. Records in, records out: nothing here knows a request, a
 * cookie or a Session — the manager applies what these functions return to the request's session.
 *
 * The states of a record (the invariants the manager relies on):
 * - live: `rotatedTo` null, data of its own;
 * - rotation pointer: `rotatedTo` = the successor's id, no data, the owner kept (so "log out
 *   everywhere" ends it with the rest, SEC-38) and `meta.rotation` saying what kind of rotation
 *   made it; alive for the grace window only. Rotation creates the successor first, then retires
 *   the old record with a compare-and-set (`retire`);
 * - fence: a pointer to itself of kind ENDED, alive ≤ FENCE_MS: a logout's mark that makes a
 *   concurrent rotation fail instead of outliving the logout (`endChain`, the one single-session end).
 */
import { SessionConflictError, SessionDestroyedError } from '../errors.js';
import { casRetry, RETRY } from '../lib/backoff.js';
import { newRecord, nextData, nextVersion, withData, type SessionRecord } from '../lib/record.js';
import { noteData, noteWrite, takeJson, takeWrite } from '../lib/data-json.js';
import { mergeChanges, sameJson, type Changes } from './changes.js';
import type { ResolvedOptions } from './options.js';
import type { DeviceSession } from './session.js';
import { assertStorableJson, put } from './storable.js';

/**
 * Rotation kinds (in `meta.rotation`). ELEVATED: a rotation with re-authentication (login,
 * second factor) — the old token is worth nothing afterwards, and a write still in flight with
 * it is dropped (it was made before the authentication). PRIVILEGE: rotate() on a privilege
 * change — the old token is worth nothing, but an in-flight write of the same signed-in user
 * follows to the successor (it is data, not authority). ENDED: a logout's fence (a pointer to
 * itself). Anything else ('renewal'): the old token reaches its successor for the grace window.
 */
export const ELEVATED = 'elevated';
export const PRIVILEGE = 'privilege';
export const ENDED = 'ended';
export type RotationKind = typeof ELEVATED | typeof PRIVILEGE | 'renewal';
/** How long a logout fence may outlive a failed delete: it only has to win a race. */
export const FENCE_MS = 5_000;

/** What the protocol reads of the manager's options. */
export type ProtocolOptions = Pick<ResolvedOptions, 'store' | 'clock' | 'idleTimeout' | 'absoluteTimeout' | 'rotationGrace' | 'onConflict'>;

/** How `endChain` found a session: ended, absent (or not the given owner's), or replaced by another user's login. */
export type Ended = 'ended' | 'gone' | 'foreign';

/**
 * What the retry loops of a request's writes call back into, `C` being the request (the
 * manager's Session): made once per manager, so a write allocates no callbacks.
 */
export interface WriteHooks<C> {
  /** The latest live version of a record (following a pointer like `latest`); throws SessionDestroyedError. */
  reread(ctx: C, id: string, now: number): Promise<SessionRecord>;
  /** A per-key conflict is about to be thrown (for the `session.conflict` event). */
  conflict(ctx: C): Promise<void>;
}

/** The retry options of every data write: shared, so the hot write path allocates none. */
const DATA_WRITE = {
  exhausted: (): never => {
    throw new SessionConflictError('too many concurrent updates');
  },
};

/** The older of two authentication times; null (never authenticated) if either is. */
export function olderAuth(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.min(a, b);
}

/** Within both deadlines and the idle timeout of the current policy (stricter than when written, maybe: SEC-11). */
export function isLive(o: ProtocolOptions, r: SessionRecord, now: number): boolean {
  return r.expiresAt > now && r.absoluteExpiresAt > now && r.lastSeenAt + o.idleTimeout > now;
}

/**
 * Run an update function on a private deep copy; it may mutate the copy or return a new object.
 * `text`: the base's JSON when known (then the copy costs one parse).
 */
export function applyUpdate(fn: (d: Record<string, unknown>) => void | Record<string, unknown>, base: Record<string, unknown>, text: string | null = null): Record<string, unknown> {
  const d = JSON.parse(text ?? JSON.stringify(base)) as Record<string, unknown>;
  const r = fn(d);
  return r && typeof r === 'object' ? r : d;
}

/** What a new session record is made of; `old` is the record it replaces (rotation), if any. */
export interface SessionIssue {
  id: string;
  userId: string | null;
  data: Record<string, unknown>;
  reauthenticated: boolean;
  old: SessionRecord | null;
  /** A sign-in carried over from elsewhere: its deadline (see LoginOptions.carriedOverUntil). */
  carriedOverUntil?: number | undefined;
  meta: SessionRecord['meta'];
}

/** The record of a new session (login, rotation, first write), not yet stored. */
export function sessionRecord(o: ProtocolOptions, now: number, s: SessionIssue): SessionRecord {
  const { old, reauthenticated } = s;
  // SEC-11: re-authentication restarts both timers; a plain rotation keeps the absolute deadline.
  // A sign-in carried over from elsewhere is not a re-authentication: no authTime (SEC-14), and
  // no deadline later than the one it came with.
  const carried = s.carriedOverUntil !== undefined;
  const absoluteExpiresAt = carried
    ? Math.min(now + o.absoluteTimeout, s.carriedOverUntil!)
    : reauthenticated || !old ? now + o.absoluteTimeout : old.absoluteExpiresAt;
  return newRecord({
    id: s.id,
    now,
    userId: s.userId,
    data: s.data,
    createdAt: old && !reauthenticated ? old.createdAt : now,
    authTime: carried ? null : reauthenticated ? now : (old?.authTime ?? null),
    absoluteExpiresAt,
    expiresAt: Math.min(now + o.idleTimeout, absoluteExpiresAt),
    meta: s.meta,
  });
}

/**
 * Renew a live record's idle deadline (never past its absolute one) without a new version;
 * `r` is updated in place when the store did it (false: gone, expired or a pointer, SEC-19).
 */
export async function touch(o: ProtocolOptions, r: SessionRecord, now: number): Promise<boolean> {
  const expiresAt = Math.min(now + o.idleTimeout, r.absoluteExpiresAt);
  if (!(await o.store.touch(r.id, now, expiresAt, now))) return false;
  r.lastSeenAt = now;
  r.expiresAt = expiresAt;
  return true;
}

/**
 * Where a rotation pointer met at load leads: the live successor of the same owner, reached for
 * the grace window after a renewal (SEC-18); 'worthless' after a rotation that raised privilege
 * (SEC-15/CWE-384: the old token was anonymous or half-authenticated and stays so); null when
 * it leads nowhere (ended, gone, expired, another owner).
 */
export async function graceSuccessor(o: ProtocolOptions, pointer: SessionRecord, now: number): Promise<SessionRecord | 'worthless' | null> {
  const kind = pointer.meta.rotation;
  if (kind === ELEVATED || kind === PRIVILEGE) return 'worthless';
  if (kind === ENDED || !pointer.rotatedTo) return null;
  const next = await o.store.get(pointer.rotatedTo, now);
  if (!next || next.rotatedTo || !isLive(o, next, now) || next.userId !== pointer.userId) return null;
  return next;
}

/**
 * Latest live version of a record, following one rotation pointer of the same owner; throws
 * SessionDestroyedError if it is gone, ended, or replaced by a privilege-raising rotation (a write
 * from before a login never lands in the signed-in session). `followed` says a pointer was
 * followed: the caller's request is superseded from then on (issue 20 finding 2).
 */
export async function latest(o: ProtocolOptions, id: string, now: number): Promise<{ record: SessionRecord; followed: boolean }> {
  let fresh = await o.store.get(id, now);
  if (fresh?.rotatedTo) {
    if (fresh.meta.rotation === ELEVATED || fresh.meta.rotation === ENDED) throw new SessionDestroyedError();
    const owner = fresh.userId;
    fresh = await o.store.get(fresh.rotatedTo, now);
    if (!fresh || fresh.rotatedTo || fresh.userId !== owner) throw new SessionDestroyedError();
    return { record: fresh, followed: true };
  }
  if (!fresh || fresh.rotatedTo) throw new SessionDestroyedError();
  return { record: fresh, followed: false };
}

/** A user's live sessions as the device list shows them (SEC-39), most recently active first. */
export function deviceSessions(records: readonly SessionRecord[], userId: string, currentId: string | null, now: number): DeviceSession[] {
  return records
    .filter((r) => !r.rotatedTo && r.userId === userId && r.expiresAt > now)
    .map((r) => ({
      id: r.id,
      current: r.id === currentId,
      userAgent: r.meta.userAgent,
      ip: r.meta.ip,
      createdAt: r.createdAt,
      lastSeenAt: r.lastSeenAt,
      expiresAt: r.expiresAt,
      authTime: r.authTime,
    }))
    .sort((a, b) => b.lastSeenAt - a.lastSeenAt);
}

/**
 * Write a request's per-key changes over the latest stored version, renewing the idle deadline:
 * compare-and-set, and on a lost round re-read (`hooks.reread`) and merge again. `base` is the data the
 * request loaded (what tells a concurrent writer's keys from its own); `start` is the record it
 * loaded. Returns the record written. Throws SessionConflictError on a per-key conflict under
 * `onConflict: 'error'` (after `hooks.conflict`) and SessionDestroyedError from `hooks.reread`.
 *
 * Commit's one store write: a store-side per-key merge would replace the loop here.
 */
export function writeChanges<C>(
  o: ProtocolOptions,
  hooks: WriteHooks<C>,
  ctx: C,
  start: SessionRecord,
  base: Record<string, unknown>,
  changes: Changes,
  now0: number,
): Promise<SessionRecord> {
  let cur = withData(start, base);
  let now = now0;
  return casRetry(async (attempt) => {
    if (attempt > 0) {
      cur = await hooks.reread(ctx, cur.id, now);
      now = o.clock();
    }
    let data: Record<string, unknown>;
    try {
      data = mergeChanges(cur.data, base, changes, o.onConflict);
    } catch (e) {
      await hooks.conflict(ctx);
      throw e;
    }
    const next = nextData(cur, data, now, Math.min(now + o.idleTimeout, cur.absoluteExpiresAt));
    return (await o.store.update(next, cur.version, now)) ? next : RETRY;
  }, DATA_WRITE);
}

/**
 * Atomic read-modify-write: `fn` runs on a copy of the latest stored data and is re-run after
 * every lost compare-and-set. `start` is the record with the data the request holds as stored,
 * `startJson` that data's JSON. The data written leaves with its text (lib/data-json.ts): the
 * store writes the size check's serialisation, and the caller may take it with the record.
 */
export function atomicWrite<C>(
  o: ProtocolOptions,
  hooks: WriteHooks<C>,
  ctx: C,
  start: SessionRecord,
  fn: (d: Record<string, unknown>) => void | Record<string, unknown>,
  startJson: string | null = null,
): Promise<SessionRecord> {
  let cur = start;
  let now = o.clock();
  return casRetry(async (attempt) => {
    if (attempt > 0) {
      cur = await hooks.reread(ctx, cur.id, now);
      now = o.clock();
    }
    const data = applyUpdate(fn, cur.data, attempt === 0 ? startJson : takeJson(cur.data));
    const json = JSON.stringify(data);
    assertStorableJson(json);
    const next = nextData(cur, data, now, Math.min(now + o.idleTimeout, cur.absoluteExpiresAt));
    noteWrite(data, json);
    let written: boolean;
    try {
      written = await o.store.update(next, cur.version, now);
    } finally {
      takeWrite(data);
    }
    if (!written) return RETRY;
    noteData(data, json);
    return next;
  }, DATA_WRITE);
}

/**
 * Turn the old record into a short-lived pointer to its successor (or delete it when grace is 0).
 * Returns the version it replaced, 'rotated' when a concurrent rotation had replaced it already,
 * or 'ended' when it was gone or fenced (ended concurrently).
 */
export async function retire(o: ProtocolOptions, old: SessionRecord, successor: string, kind: RotationKind): Promise<SessionRecord | 'rotated' | 'ended'> {
  let cur = old;
  return casRetry<SessionRecord | 'rotated' | 'ended'>(async (attempt) => {
    const now = o.clock();
    if (attempt > 0) {
      const got = await o.store.get(old.id, now);
      if (!got) return 'ended';
      if (got.rotatedTo) return got.meta.rotation === ENDED ? 'ended' : 'rotated';
      cur = got;
    }
    const pointer = nextVersion(cur, {
      // The pointer keeps its owner: "log out everywhere" must end it with the rest (SEC-38).
      data: {},
      rotatedTo: successor,
      // Even without a grace window the pointer is written first: the compare-and-set is what
      // orders this rotation against a concurrent logout's fence.
      expiresAt: Math.min(now + Math.max(o.rotationGrace, 1), cur.expiresAt),
      meta: { ...cur.meta, rotation: kind },
    });
    if (!(await o.store.update(pointer, cur.version, now))) return RETRY;
    if (o.rotationGrace === 0) await o.store.delete(old.id);
    return cur;
    // Kept without backoff, as before the split: a lost round re-reads at once (a pointer there
    // ends the loop), so a login does not queue behind data writers, which back off themselves.
    // Every round lost: treated as ended, as before.
  }, { wait: false, exhausted: () => 'ended' as const });
}

/**
 * A write with the old token landed between a rotating request's load and its rotation: the
 * successor (`id`) was made from a copy that missed it. Carry the writer's changes over (keys the
 * rotating request left alone; for a key both changed, the rotating request's own value stands).
 * `loaded` is what the rotating request loaded, `landed` what the old record held when retired.
 * Returns the record written, or null when there was nothing to carry or the successor is gone.
 */
export async function carryOver(o: ProtocolOptions, id: string, loaded: Record<string, unknown>, landed: Record<string, unknown>): Promise<SessionRecord | null> {
  const changed = [...new Set([...Object.keys(loaded), ...Object.keys(landed)])].filter((k) => !sameJson(loaded[k], landed[k]));
  if (changed.length === 0) return null;
  return casRetry(async () => {
    const now = o.clock();
    const cur = await o.store.get(id, now);
    if (!cur || cur.rotatedTo) return null;
    const data = { ...cur.data };
    for (const k of changed) {
      if (!sameJson(cur.data[k], loaded[k])) continue;
      if (k in landed) put(data, k, landed[k]);
      else delete data[k];
    }
    const merged = withData(cur, data, cur.version + 1);
    return (await o.store.update(merged, cur.version, now)) ? merged : RETRY;
  }, DATA_WRITE);
}

/**
 * End a record and every record rotations made of it for the same owner (SEC-36): the one
 * mechanism behind logout and "sign out that device". A plain read-then-delete loses to a
 * rotation landing in between (the successor would outlive the logout), so the live end of the
 * chain is fenced with a compare-and-set: either the rotation's own compare-and-set landed first
 * (we see its pointer and follow it, however many hops) or ours did (the rotation sees the
 * fence, fails and removes its successor itself).
 *
 * A pointer to a session of another owner is not followed: a login replaced this session, and a
 * request of the old one (a pre-login page still in flight) must not end the signed-in session.
 *
 * Returns 'gone' when `id` is absent (or not `owner`'s), 'foreign' when the chain stopped at a
 * login by someone else, 'ended' otherwise.
 */
export async function endChain(o: ProtocolOptions, id: string, owner?: string): Promise<Ended> {
  const chain: string[] = [];
  let first: SessionRecord | null = null;
  let at = id;
  const result = await casRetry<Ended>(async () => {
    for (;;) {
      const now = o.clock();
      const cur = await o.store.get(at, now);
      if (!cur) return first ? 'ended' : 'gone';
      if (!first) {
        if (owner !== undefined && cur.userId !== owner) return 'gone';
        first = cur;
      } else if (cur.userId !== first.userId) {
        return 'foreign';
      }
      if (cur.rotatedTo) {
        chain.push(at);
        // A fence (ended already) points to itself; the check also stops any cycle.
        if (chain.includes(cur.rotatedTo)) return 'ended';
        at = cur.rotatedTo;
        continue;
      }
      const fence = nextVersion(cur, {
        data: {},
        rotatedTo: at,
        expiresAt: Math.min(cur.expiresAt, now + FENCE_MS),
        meta: { ...cur.meta, rotation: ENDED },
      });
      if (!(await o.store.update(fence, cur.version, now))) return RETRY;
      chain.push(at);
      return 'ended';
    }
  }, DATA_WRITE);
  if (result === 'gone') return result;
  // The live end first: once it is gone, nothing the pointers lead to is left.
  for (let i = chain.length - 1; i >= 0; i--) await o.store.delete(chain[i]!);
  return result;
}
