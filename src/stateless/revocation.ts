/**
 * Revocation for stateless credentials (SEC-37): a per-user "valid after" cut-off and a
 * per-credential denylist whose entries expire with the credential. Backed by any sessionward
 * {@link SessionStore}.
 *
 * Records (issue 21, finding 7: one record per user grew without bound and lost under contention):
 * - a cut-off per user, `sha256('revoke:' + userId)`, holding only `validAfter`;
 * - a deny record per credential, `sha256('deny:' + id)`, living exactly as long as the
 *   credential. Denying is an insert (`create`), so concurrent revocations never contend.
 * A check reads the user's cut-off and the credential's deny record(s) in parallel: a fixed number
 * of reads (1 + 1 + `alsoIds.length`) whatever the number of revocations, one round trip on
 * Redis (the client pipelines them). Results may be cached in-process for `revocationCacheMs`
 * (default 0 = every check reads the store); writes made through this instance are visible to
 * it at once.
 *
 * Every record is written `pinned`: a store that evicts (an LRU bound, Redis under memory
 * pressure) must keep it until it expires, since its loss would accept a revoked credential again.
 * Records carry `userId: null` on purpose: they are not sessions, so they never show in
 * `listByUser` and `deleteByUser` ("log out everywhere") cannot wipe a cut-off.
 *
 * @example
 * const revocation = new Revocation({ store: redisStore, revocationCacheMs: 5_000 })
 * await revocation.revokeUser('u1')                       // every credential issued before now
 * await revocation.revokeSession(sid, absoluteExpiry, 'u1') // one session / one jti
 * await revocation.isRevoked({ id: sid, userId: 'u1', issuedAt }) // false | true
 */
import { ConfigError, InvalidInputError, StoreError } from '../errors.js';
import { assertUserId } from '../core/storable.js';
import { sha256Sync } from '../crypto/node.js';
import type { SessionRecord, SessionStore } from '../stores/types.js';
import type { OnStatelessEvent } from './events.js';
import { emit } from './util.js';
import { casRetry, RETRY } from '../lib/backoff.js';
import { newRecord, nextVersion } from '../lib/record.js';

export interface RevocationOptions {
  store: SessionStore;
  /** In-process cache of check results, ms (0..60000). Revocation takes up to this long to reach other instances. */
  revocationCacheMs?: number;
  /** Longest lifetime of any credential checked here; a cut-off record is kept this long. Default 30 days. */
  maxLifetimeMs?: number;
  /** Cached entries, at most (default 10000). */
  cacheSize?: number;
  now?: () => number;
  onEvent?: OnStatelessEvent;
}

export interface RevocationSubject {
  /** Session id (sealed cookies) or `iss|jti` (JWT). */
  id: string;
  userId?: string | null;
  /** When the credential was issued, ms since the epoch. */
  issuedAt: number;
  /**
   * Further ids denylisted for the same user that also revoke this credential — e.g. the `sid`
   * of a JWT, denied when its refresh family is revoked for theft. Same record: no extra read.
   */
  alsoIds?: readonly string[];
}

interface RevocationData {
  validAfter?: number;
  /**
   * Written by versions before issue 21 (sha256(id) -> expiry) into the user's record; still
   * honoured on read and carried (never grown) by cut-off writes until its entries expire.
   */
  deny?: Record<string, number>;
}

/** Attempts of a compare-and-set before giving up; each lost round means another writer won. */
const MAX_TRIES = 1000;

/** A revocation record (pinned: see the module comment), new or the version after `prev`. */
function revocationRecord(key: string, now: number, data: RevocationData, expiresAt: number, prev?: SessionRecord): SessionRecord {
  const fields = { data: data as Record<string, unknown>, lastSeenAt: now, absoluteExpiresAt: expiresAt, expiresAt, meta: { kind: 'revocation' }, pinned: true };
  return prev ? nextVersion(prev, { ...fields, userId: null, authTime: null, rotatedTo: null }) : newRecord({ id: key, now, ...fields });
}

export class Revocation {
  readonly #store: SessionStore;
  readonly #cacheMs: number;
  readonly #maxLifetime: number;
  readonly #cacheSize: number;
  readonly #now: () => number;
  readonly #onEvent: OnStatelessEvent | undefined;
  readonly #cache = new Map<string, { rec: RevocationData | null; until: number }>();

  constructor(o: RevocationOptions) {
    if (!o || !o.store || typeof o.store.get !== 'function') throw new ConfigError('Revocation needs a SessionStore');
    const cacheMs = o.revocationCacheMs ?? 0;
    if (!Number.isInteger(cacheMs) || cacheMs < 0 || cacheMs > 60_000) throw new ConfigError('revocationCacheMs must be an integer 0..60000');
    const maxLifetime = o.maxLifetimeMs ?? 30 * 24 * 3600_000;
    if (!Number.isInteger(maxLifetime) || maxLifetime <= 0) throw new ConfigError('maxLifetimeMs must be a positive integer');
    this.#store = o.store;
    this.#cacheMs = cacheMs;
    this.#maxLifetime = maxLifetime;
    this.#cacheSize = o.cacheSize ?? 10_000;
    this.#now = o.now ?? Date.now;
    this.#onEvent = o.onEvent;
  }

  #userKey(userId: string): string {
    return sha256Sync('revoke:' + userId);
  }

  #denyKey(id: string): string {
    return sha256Sync('deny:' + id);
  }

  async #read(key: string, now: number): Promise<RevocationData | null> {
    const hit = this.#cacheMs > 0 ? this.#cache.get(key) : undefined;
    if (hit && hit.until > now) return hit.rec;
    const r = await this.#store.get(key, now);
    const rec = r ? ((r.data ?? {}) as RevocationData) : null;
    this.#remember(key, rec, now);
    return rec;
  }

  /** True when the credential is denylisted or issued before its user's cut-off. A fixed number of parallel reads. */
  async isRevoked(s: RevocationSubject): Promise<boolean> {
    const now = this.#now();
    const ids = s.alsoIds ? [s.id, ...s.alsoIds] : [s.id];
    const [cut, ...denied] = await Promise.all([
      s.userId ? this.#read(this.#userKey(s.userId), now) : null,
      ...ids.map((id) => this.#read(this.#denyKey(id), now)),
    ]);
    if (denied.some((d) => d !== null)) return true;
    if (!cut) return false;
    if (typeof cut.validAfter === 'number' && s.issuedAt < cut.validAfter) return true;
    for (const id of ids) {
      const exp = cut.deny?.[sha256Sync(id)];
      if (typeof exp === 'number' && exp > now) return true;
    }
    return false;
  }

  /** Deny one credential until `expiresAt` (its own expiry: afterwards it is dead anyway). */
  async revokeSession(id: string, expiresAt: number, _userId?: string | null): Promise<void> {
    const now = this.#now();
    if (expiresAt <= now) return;
    const key = this.#denyKey(id);
    // An insert: concurrent revocations of different credentials never touch the same record.
    // A record that exists already only has to last as long as ours would.
    await this.#merge(key, now, (cur) => (cur && cur.expiresAt >= expiresAt ? null : { data: {}, expiresAt }));
    this.#remember(key, {}, now);
    emit(this.#onEvent, { type: 'revocation.session', idHash: sha256Sync(id) });
  }

  /**
   * Use a one-time credential: true for the first caller only, false for every later (or
   * concurrent) use until `expiresAt`, when the credential is dead anyway. Atomic on any conforming
   * store: the deny record is created with `create`, which only one writer can win. Afterwards
   * `isRevoked({ id })` is true too.
   */
  async consumeOnce(id: string, expiresAt: number): Promise<boolean> {
    const now = this.#now();
    if (expiresAt <= now) return false;
    const key = this.#denyKey(id);
    const first = await this.#store.create(revocationRecord(key, now, {}, expiresAt));
    this.#remember(key, {}, now);
    if (first) emit(this.#onEvent, { type: 'revocation.session', idHash: sha256Sync(id) });
    return first;
  }

  /** Revoke every credential of `userId` issued before `validAfter` (default: now). */
  async revokeUser(userId: string, validAfter = this.#now()): Promise<void> {
    // The same rule as every store's userId (a lone surrogate or control character is refused, not
    // hashed into a cut-off that no session's userId could ever match).
    assertUserId(userId);
    if (typeof validAfter !== 'number' || !Number.isFinite(validAfter)) throw new InvalidInputError('validAfter must be a finite time in milliseconds');
    const now = this.#now();
    const key = this.#userKey(userId);
    const written = await this.#merge(key, now, (cur) => {
      const data = (cur?.data ?? {}) as RevocationData;
      // A later cut-off covers ours: done, whoever wrote it.
      if (typeof data.validAfter === 'number' && data.validAfter >= validAfter) return null;
      const next: RevocationData = { validAfter };
      let expiresAt = Math.max(now, validAfter) + this.#maxLifetime;
      if (data.deny) {
        const deny: Record<string, number> = {};
        for (const [h, e] of Object.entries(data.deny)) if (e > now) deny[h] = e;
        if (Object.keys(deny).length) next.deny = deny;
        for (const e of Object.values(deny)) expiresAt = Math.max(expiresAt, e);
      }
      return { data: next, expiresAt };
    });
    this.#remember(key, written, now);
    emit(this.#onEvent, { type: 'revocation.user', userHash: sha256Sync(userId), validAfter });
  }

  #remember(key: string, rec: RevocationData | null, now: number): void {
    if (this.#cacheMs <= 0) return;
    this.#cache.delete(key);
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, { rec, until: now + this.#cacheMs });
  }

  /**
   * Create-or-compare-and-set loop for a monotonic record: `next` returns what to write, or null
   * when the current record already covers this revocation. A lost round means another writer
   * landed first; since every write only moves forward, the loop ends as soon as one covers ours,
   * so a revocation never fails because others ran (jittered backoff spreads the rounds).
   * Returns the record's data as it stands afterwards.
   */
  async #merge(key: string, now: number, next: (cur: SessionRecord | null) => { data: RevocationData; expiresAt: number } | null): Promise<RevocationData> {
    return casRetry(async () => {
      const cur = await this.#store.get(key, now);
      const want = next(cur);
      if (!want) return (cur!.data ?? {}) as RevocationData;
      const record = revocationRecord(key, now, want.data, want.expiresAt, cur ?? undefined);
      const ok = cur ? await this.#store.update(record, cur.version, now) : await this.#store.create(record);
      return ok ? want.data : RETRY;
    }, {
      attempts: MAX_TRIES,
      exhausted: () => {
        throw new StoreError('revocation record kept changing; is the store conforming?');
      },
    });
  }
}
