/**
 * Revocation for stateless credentials (SEC-37): a per-user "valid after" cut-off and a
 * per-credential denylist whose entries expire with the credential. Backed by any sessionward
 * {@link SessionStore}.
 *
 * One store read per check, by design: a credential bound to a user is checked against ONE record
 * per user (`sha256('revoke:' + userId)`) that holds both the cut-off and that user's denied ids;
 * an anonymous credential is checked against `sha256('deny:' + id)`. Results may be cached
 * in-process for `revocationCacheMs` (default 0 = every check reads the store); writes made
 * through this instance are visible to it at once.
 *
 * Records carry `userId: null` on purpose: they are not sessions, so they never show in
 * `listByUser` and `deleteByUser` ("log out everywhere") cannot wipe a cut-off.
 *
 * @example
 * const revocation = new Revocation({ store: redisStore, revocationCacheMs: 5_000 })
 * await revocation.revokeUser('u1')                       // every credential issued before now
 * await revocation.revokeSession(sid, absoluteExpiry, 'u1') // one session / one jti
 * await revocation.isRevoked({ id: sid, userId: 'u1', issuedAt }) // false | true
 */
import { ConfigError, StoreError } from '../errors.js';
import { sha256Sync } from '../crypto/node.js';
import type { SessionRecord, SessionStore } from '../stores/types.js';
import type { OnStatelessEvent } from './events.js';
import { emit } from './util.js';

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

interface UserRevocation {
  validAfter?: number;
  /** sha256(id) -> expiry ms. */
  deny?: Record<string, number>;
}

const MAX_TRIES = 25;

export class Revocation {
  readonly #store: SessionStore;
  readonly #cacheMs: number;
  readonly #maxLifetime: number;
  readonly #cacheSize: number;
  readonly #now: () => number;
  readonly #onEvent: OnStatelessEvent | undefined;
  readonly #cache = new Map<string, { rec: UserRevocation | null; until: number }>();

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

  #key(userId: string | null | undefined, id: string): string {
    return userId ? sha256Sync('revoke:' + userId) : sha256Sync('deny:' + id);
  }

  /** True when the credential is denylisted or issued before its user's cut-off. One store read at most. */
  async isRevoked(s: RevocationSubject): Promise<boolean> {
    const key = this.#key(s.userId, s.id);
    const now = this.#now();
    let rec: UserRevocation | null;
    const hit = this.#cacheMs > 0 ? this.#cache.get(key) : undefined;
    if (hit && hit.until > now) rec = hit.rec;
    else {
      const r = await this.#store.get(key, now);
      rec = r ? ((r.data ?? {}) as UserRevocation) : null;
      this.#remember(key, rec, now);
    }
    if (!rec) return false;
    if (!s.userId) return true; // an anonymous deny record exists for this id
    if (typeof rec.validAfter === 'number' && s.issuedAt < rec.validAfter) return true;
    for (const id of s.alsoIds ? [s.id, ...s.alsoIds] : [s.id]) {
      const exp = rec.deny?.[sha256Sync(id)];
      if (typeof exp === 'number' && exp > now) return true;
    }
    return false;
  }

  /** Deny one credential until `expiresAt` (its own expiry: afterwards it is dead anyway). */
  async revokeSession(id: string, expiresAt: number, userId?: string | null): Promise<void> {
    const now = this.#now();
    if (expiresAt <= now) return;
    const idHash = sha256Sync(id);
    if (!userId) {
      const key = this.#key(null, id);
      await this.#upsert(key, now, () => ({ rec: {}, expiresAt }));
    } else {
      await this.#upsert(this.#key(userId, id), now, (cur) => {
        const deny: Record<string, number> = {};
        // Drop entries that have expired, so a user's record stays small.
        for (const [h, e] of Object.entries(cur?.deny ?? {})) if (e > now) deny[h] = e;
        deny[idHash] = Math.max(deny[idHash] ?? 0, expiresAt);
        const rec: UserRevocation = { ...cur, deny };
        return { rec, expiresAt: this.#horizon(rec, now) };
      });
    }
    emit(this.#onEvent, { type: 'revocation.session', idHash });
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
    const key = this.#key(null, id);
    const record: SessionRecord = {
      id: key,
      userId: null,
      data: {},
      version: 1,
      createdAt: now,
      lastSeenAt: now,
      authTime: null,
      absoluteExpiresAt: expiresAt,
      expiresAt,
      meta: { kind: 'revocation' },
      rotatedTo: null,
    };
    const first = await this.#store.create(record);
    this.#remember(key, {}, now);
    if (first) emit(this.#onEvent, { type: 'revocation.session', idHash: sha256Sync(id) });
    return first;
  }

  /** Revoke every credential of `userId` issued before `validAfter` (default: now). */
  async revokeUser(userId: string, validAfter = this.#now()): Promise<void> {
    if (typeof userId !== 'string' || userId === '') throw new TypeError('userId must be a non-empty string');
    const now = this.#now();
    await this.#upsert(this.#key(userId, ''), now, (cur) => {
      const rec: UserRevocation = { ...cur, validAfter: Math.max(cur?.validAfter ?? 0, validAfter) };
      return { rec, expiresAt: this.#horizon(rec, now) };
    });
    emit(this.#onEvent, { type: 'revocation.user', userHash: sha256Sync(userId), validAfter });
  }

  #horizon(rec: UserRevocation, now: number): number {
    let h = typeof rec.validAfter === 'number' ? Math.max(now, rec.validAfter) + this.#maxLifetime : now + 1;
    for (const e of Object.values(rec.deny ?? {})) h = Math.max(h, e);
    return h;
  }

  #remember(key: string, rec: UserRevocation | null, now: number): void {
    if (this.#cacheMs <= 0) return;
    this.#cache.delete(key);
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, { rec, until: now + this.#cacheMs });
  }

  /** Create-or-CAS-update loop: correct under concurrent writers on any conforming store. */
  async #upsert(key: string, now: number, next: (cur: UserRevocation | null) => { rec: UserRevocation; expiresAt: number }): Promise<void> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = await this.#store.get(key, now);
      const { rec, expiresAt } = next(cur ? ((cur.data ?? {}) as UserRevocation) : null);
      const record: SessionRecord = {
        id: key,
        userId: null,
        data: rec as Record<string, unknown>,
        version: cur ? cur.version + 1 : 1,
        createdAt: cur?.createdAt ?? now,
        lastSeenAt: now,
        authTime: null,
        absoluteExpiresAt: expiresAt,
        expiresAt,
        meta: { kind: 'revocation' },
        rotatedTo: null,
      };
      const ok = cur ? await this.#store.update(record, cur.version, now) : await this.#store.create(record);
      if (ok) {
        this.#remember(key, rec, now);
        return;
      }
    }
    throw new StoreError('revocation record kept changing; is the store conforming?');
  }
}
