import type { SessionRecord } from '../lib/record.js';

// The record's shape lives with its factory (src/lib/record.ts); stores and users import it from here.
export type { SessionRecord, SessionMeta } from '../lib/record.js';

/**
 * The one store contract every sessionward store implements, and that the conformance suite
 * (`sessionward/testing`) checks against a real server.
 *
 * Units: every time is an integer count of **milliseconds since the Unix epoch** (UTC); every
 * duration is in milliseconds. Ids are the base64url SHA-256 of a session token (43 chars) —
 * a store never sees a raw token (SEC-21).
 *
 * Guarantees every implementation must give (and the suite tests):
 * - `get` never returns a record whose `expiresAt <= now`; expired records behave as absent.
 * - `create` inserts only; it never overwrites an existing live id (returns false instead).
 * - `update` is a compare-and-set on `version`: it writes only if the stored record exists, is
 *   live, and has `version === expectedVersion`; the written record carries
 *   `version = expectedVersion + 1`. It never inserts, so a request in flight during logout can
 *   never resurrect a destroyed session. Atomic with respect to every other method.
 * - `touch` moves `lastSeenAt`/`expiresAt` of a live record without changing `version` or data;
 *   it never creates and never revives an expired or deleted record (SEC-19), never moves
 *   `expiresAt` past `absoluteExpiresAt`, and never renews a rotation tombstone (`rotatedTo`).
 * - `delete` is idempotent.
 * - Stores keep records for at least until `expiresAt` and SHOULD drop them soon after (TTL).
 * - The per-user index (`listByUser`, `deleteByUser`) reflects create/update/delete at once
 *   (read-your-writes for the same store instance) and never lists expired records.
 * - Failures to reach the backend reject with `StoreUnavailableError` within a bounded time; a
 *   backend that is up but full rejects writes with `StoreMemoryError`.
 * - A record written with `pinned: true` (revocation state: denylist entries, cut-offs, one-time
 *   marks) is kept until its `expiresAt` whatever the store's memory or capacity pressure: a store
 *   that evicts (an LRU bound, a cache policy) must never evict it early, because its loss would
 *   make a revoked credential valid again. Where the backend allows it, such writes, deletes,
 *   and updates that do not grow a record are accepted even at the store's memory limit, so
 *   logout and revocation keep working when it is full.
 * - A store keeps no reference to the objects it is given or returns: callers may mutate them.
 * - `patch` (optional) applies per-key data changes in one atomic step; see {@link DataPatch}.
 */
/**
 * A request's changes to a session's data, key by key, applied by `SessionStore.patch` inside the
 * store. Keys not named are left as the store holds them, so writers of different keys never
 * conflict and none of them needs a read or a retry.
 */
export interface DataPatch {
  /** Keys to set (own enumerable properties), each to a JSON-serialisable value. */
  set?: Record<string, unknown>;
  /** Keys to remove (absent keys are ignored). */
  del?: readonly string[];
}

export interface PatchOptions {
  /** The caller's clock: a record whose `expiresAt <= now` is absent. Also the new `lastSeenAt`. */
  now: number;
  /** The new idle deadline; the store caps it at the record's `absoluteExpiresAt` (SEC-11). */
  expiresAt: number;
  /**
   * Apply only if each named key still holds this value, compared as JSON text (`undefined`: the
   * key must be absent). How a caller keeps "a concurrent change of the same key is a conflict".
   */
  expect?: Record<string, unknown>;
  /**
   * The record the caller computed this change from (as it loaded it, data included). A hint: a
   * store may write `base` with the patch applied, without reading or merging the stored data,
   * when the stored `version` still equals `base.version` (nothing was written since). Ignoring
   * it is always correct.
   */
  base?: SessionRecord;
}

export interface SessionStore {
  /** Short name used in events, metrics and errors ("memory", "redis", ...). */
  readonly name: string;
  get(id: string, now: number): Promise<SessionRecord | null>;
  /** Insert a new record. Returns false if a live record with that id exists already. */
  create(record: SessionRecord): Promise<boolean>;
  /**
   * Compare-and-set. `record.version` must equal `expectedVersion + 1`. Returns true if written,
   * false if the record is gone, expired, or its version differs.
   */
  update(record: SessionRecord, expectedVersion: number, now: number): Promise<boolean>;
  /**
   * Optional atomic per-key merge: in one step, if the record is live, not a rotation pointer
   * (`rotatedTo`), not pinned, and matches `opts.expect`, set and delete the given data keys, set
   * `version` to the stored version + 1, `lastSeenAt` to `now` and `expiresAt` to
   * min(`opts.expiresAt`, `absoluteExpiresAt`); every other field and data key stays as stored.
   * Returns the record as written, or null when nothing was written (absent, expired, a pointer,
   * an expectation not met, or a change the store cannot apply in one step — the caller then
   * falls back to `get` + `update`). Never inserts.
   */
  patch?(id: string, patch: DataPatch, opts: PatchOptions): Promise<SessionRecord | null>;
  /** Record activity. Returns false if the record is gone or expired. */
  touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean>;
  delete(id: string): Promise<void>;
  /** Live sessions of one user (rotation tombstones excluded), any order. */
  listByUser(userId: string, now: number): Promise<SessionRecord[]>;
  /** Delete every session of a user except `exceptId`; returns how many were deleted. */
  deleteByUser(userId: string, exceptId?: string): Promise<number>;
  /** Remove expired records in bounded batches; returns how many were removed. Optional. */
  cleanup?(now: number, limit?: number): Promise<number>;
  /** Release timers and connections the store owns (not the user's client). */
  close?(): Promise<void>;
}
