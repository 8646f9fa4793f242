/**
 * Opaque refresh tokens with rotation, families and reuse detection (RFC 9700 §4.14; SEC-20,
 * SEC-33, SEC-34).
 *
 * Token: `rt1.<familyId>.<secret>` — 128-bit family id, 256-bit secret (SEC-1). Only SHA-256 of
 * the secret is stored (SEC-21), in ONE record per family (`sha256('rtf:' + familyId)`) holding the
 * current and the previous hash. Every rotation is a compare-and-set `update` of that record, so
 * on any conforming store exactly one of N parallel refreshes of the same token wins (SEC-20).
 *
 * Outcomes for a presented token:
 * - current hash -> rotated (new token returned);
 * - previous hash within `graceMs` of the rotation -> RefreshRaceError (a concurrent legitimate
 *   refresh won; the family is kept, the client retries with the winner's token);
 * - anything else for a known family (an old token, or the previous one after the grace
 *   window) -> reuse: the whole family is revoked, a `refresh.reuse` event fires (SEC-33), and
 *   TokenReusedError is thrown.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, StoreError } from '../errors.js';
import { sha256Sync, timingSafeEqualStr } from '../crypto/node.js';
import type { SessionRecord, SessionStore } from '../stores/types.js';
import { newRecord, nextVersion } from '../lib/record.js';
import { casRetry, RETRY } from '../lib/backoff.js';
import { RefreshRaceError, TokenExpiredError, TokenInvalidError, TokenReusedError, TokenRevokedError } from './errors.js';
import type { OnStatelessEvent } from './events.js';
import type { Revocation } from './revocation.js';
import { emit } from './util.js';

export interface RefreshTokenOptions {
  store: SessionStore;
  /** A refresh token unused this long (ms) expires. Default 14 days. */
  idleTimeout?: number;
  /** A family ends this long (ms) after login, whatever the activity. Default 30 days. */
  absoluteTimeout?: number;
  /** Window (ms) in which the just-rotated token gets ERR_REFRESH_RACE instead of counting as theft. Default 10 s, max 60 s. */
  graceMs?: number;
  /** When set: a reused family also denylists its session id, and a user cut-off stops refreshes. */
  revocation?: Revocation;
  now?: () => number;
  onEvent?: OnStatelessEvent;
}

export interface RefreshBinding {
  userId: string;
  /** Session the family belongs to (SEC-34); put the same value in the access token's `sid`. */
  sid: string;
}

export interface IssuedRefreshToken extends RefreshBinding {
  refreshToken: string;
  familyId: string;
  /** Rotation count of this family (1 for a fresh login). */
  generation: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

interface FamilyData {
  userId: string;
  sid: string;
  cur: string;
  prev: string | null;
  rotatedAt: number;
  idleExp: number;
  gen: number;
  revoked?: boolean;
  /**
   * Short hashes of the secrets retired before `prev`, newest first, at most OLD_KEPT: reuse
   * detection fires only for a token this family really issued (SEC-33), so a made-up secret
   * beside a known family id cannot end the family.
   */
  old?: string[];
}

const OLD_KEPT = 64;
/** 96 bits of the SHA-256: enough that a made-up secret never matches by chance. */
const short = (hash: string): string => hash.slice(0, 16);

const TOKEN_RE = /^rt1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const MAX_TRIES = 50;

function isFamily(d: unknown): d is FamilyData {
  const f = d as FamilyData;
  return !!f && typeof f.userId === 'string' && typeof f.sid === 'string' && typeof f.cur === 'string' &&
    (f.prev === null || typeof f.prev === 'string') && typeof f.rotatedAt === 'number' && typeof f.idleExp === 'number' && typeof f.gen === 'number';
}

/**
 * @example
 * const refresh = new RefreshTokens({ store: redisStore })
 * const first = await refresh.issue({ userId: 'u1', sid })
 * const next = await refresh.rotate(first.refreshToken, { sid })   // next.refreshToken replaces it
 */
export class RefreshTokens {
  readonly #store: SessionStore;
  readonly #idle: number;
  readonly #absolute: number;
  readonly #grace: number;
  readonly #revocation: Revocation | undefined;
  readonly #now: () => number;
  readonly #onEvent: OnStatelessEvent | undefined;

  constructor(o: RefreshTokenOptions) {
    if (!o || !o.store || typeof o.store.update !== 'function') throw new ConfigError('RefreshTokens needs a SessionStore');
    this.#store = o.store;
    this.#idle = o.idleTimeout ?? 14 * 24 * 3600_000;
    this.#absolute = o.absoluteTimeout ?? 30 * 24 * 3600_000;
    this.#grace = o.graceMs ?? 10_000;
    for (const [n, v] of [['idleTimeout', this.#idle], ['absoluteTimeout', this.#absolute]] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${n} must be a positive integer (ms)`);
    }
    if (this.#idle > this.#absolute) throw new ConfigError('idleTimeout cannot exceed absoluteTimeout');
    if (!Number.isInteger(this.#grace) || this.#grace < 0 || this.#grace > 60_000) throw new ConfigError('graceMs must be 0..60000');
    this.#revocation = o.revocation;
    this.#now = o.now ?? Date.now;
    this.#onEvent = o.onEvent;
  }

  /** Start a family at login. */
  async issue(b: RefreshBinding): Promise<IssuedRefreshToken> {
    if (!b || typeof b.userId !== 'string' || !b.userId || typeof b.sid !== 'string' || !b.sid) {
      throw new TypeError('issue() needs a userId and a sid');
    }
    const now = this.#now();
    const familyId = randomBytes(16).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const data: FamilyData = { userId: b.userId, sid: b.sid, cur: sha256Sync(secret), prev: null, rotatedAt: now, idleExp: now + this.#idle, gen: 1 };
    // No owner: not a session, so kept out of listByUser / deleteByUser (revoke via Revocation.revokeUser).
    const record = newRecord({
      id: sha256Sync('rtf:' + familyId),
      now,
      data: data as unknown as Record<string, unknown>,
      expiresAt: now + this.#absolute,
      meta: { kind: 'refresh-family' },
    });
    if (!(await this.#store.create(record))) throw new StoreError('refresh family id collision');
    emit(this.#onEvent, { type: 'refresh.issued', familyHash: record.id });
    return { refreshToken: `rt1.${familyId}.${secret}`, familyId, userId: b.userId, sid: b.sid, generation: 1, idleExpiresAt: data.idleExp, absoluteExpiresAt: record.absoluteExpiresAt };
  }

  /**
   * Exchange a refresh token for the next one. `expect` binds the call to a session/user (SEC-34).
   * Throws TokenInvalidError, TokenExpiredError, TokenRevokedError, TokenReusedError, RefreshRaceError.
   */
  async rotate(token: string, expect: Partial<RefreshBinding> = {}): Promise<IssuedRefreshToken> {
    const m = typeof token === 'string' ? TOKEN_RE.exec(token) : null;
    if (!m) throw new TokenInvalidError();
    const familyId = m[1]!;
    const hash = sha256Sync(m[2]!);
    const id = sha256Sync('rtf:' + familyId);
    // A lost round is re-judged at once: the next read decides (rotated, revoked, reused).
    return casRetry(async () => {
      const now = this.#now();
      const rec = await this.#store.get(id, now);
      if (!rec || !isFamily(rec.data)) throw new TokenInvalidError();
      const d = rec.data;
      if (d.revoked) throw new TokenRevokedError();
      if (timingSafeEqualStr(hash, d.cur)) {
        if (now >= d.idleExp || now >= rec.absoluteExpiresAt) throw new TokenExpiredError();
        if ((expect.sid !== undefined && expect.sid !== d.sid) || (expect.userId !== undefined && expect.userId !== d.userId)) {
          throw new TokenInvalidError();
        }
        if (this.#revocation && (await this.#revocation.isRevoked({ id: d.sid, userId: d.userId, issuedAt: rec.createdAt }))) {
          throw new TokenRevokedError();
        }
        const secret = randomBytes(32).toString('base64url');
        const old = d.prev === null ? (d.old ?? []) : [short(d.prev), ...(d.old ?? [])].slice(0, OLD_KEPT);
        const next: FamilyData = { ...d, prev: d.cur, cur: sha256Sync(secret), rotatedAt: now, idleExp: Math.min(now + this.#idle, rec.absoluteExpiresAt), gen: d.gen + 1, old };
        const written = await this.#store.update(nextVersion(rec, { data: next as unknown as Record<string, unknown>, lastSeenAt: now }), rec.version, now);
        if (!written) return RETRY; // someone else rotated or revoked meanwhile: re-read and re-judge
        emit(this.#onEvent, { type: 'refresh.rotated', familyHash: id });
        return { refreshToken: `rt1.${familyId}.${secret}`, familyId, userId: d.userId, sid: d.sid, generation: next.gen, idleExpiresAt: next.idleExp, absoluteExpiresAt: rec.absoluteExpiresAt };
      }
      if (d.prev !== null && timingSafeEqualStr(hash, d.prev) && now - d.rotatedAt <= this.#grace) {
        emit(this.#onEvent, { type: 'refresh.race', familyHash: id });
        throw new RefreshRaceError();
      }
      // Not a secret this family ever issued (or one older than OLD_KEPT rotations): refused, and
      // proves no theft — anyone who has seen a family id could make one up.
      const issued = (d.prev !== null && timingSafeEqualStr(hash, d.prev)) || (d.old ?? []).includes(short(hash));
      if (!issued) throw new TokenInvalidError();
      // SEC-33: an invalidated token of this family was presented: assume theft, end the family.
      if (await this.#markRevoked(rec)) {
        emit(this.#onEvent, { type: 'refresh.reuse', familyHash: id, tokenHash: sha256Sync(token) });
        if (this.#revocation) await this.#revocation.revokeSession(d.sid, rec.absoluteExpiresAt, d.userId);
        throw new TokenReusedError();
      }
      return RETRY;
    }, {
      attempts: MAX_TRIES,
      wait: false,
      exhausted: () => {
        throw new StoreError('refresh family kept changing');
      },
    });
  }

  /** Logout: end the family of this token (current or previous token accepted). */
  async revoke(token: string): Promise<void> {
    const m = typeof token === 'string' ? TOKEN_RE.exec(token) : null;
    if (!m) return;
    const id = sha256Sync('rtf:' + m[1]!);
    const hash = sha256Sync(m[2]!);
    await casRetry(async () => {
      const rec = await this.#store.get(id, this.#now());
      if (!rec || !isFamily(rec.data) || rec.data.revoked) return;
      if (!timingSafeEqualStr(hash, rec.data.cur) && !(rec.data.prev && timingSafeEqualStr(hash, rec.data.prev))) return;
      if (!(await this.#markRevoked(rec))) return RETRY;
      emit(this.#onEvent, { type: 'refresh.revoked', familyHash: id });
    }, { attempts: MAX_TRIES, wait: false, exhausted: () => undefined });
  }

  /** CAS the family to revoked. True if written; false if it changed meanwhile (caller re-reads). */
  async #markRevoked(rec: SessionRecord): Promise<boolean> {
    const data = { ...(rec.data as unknown as FamilyData), revoked: true };
    // Kept until the absolute deadline so later reuse attempts are still recognised.
    return this.#store.update(nextVersion(rec, { data: data as unknown as Record<string, unknown> }), rec.version, this.#now());
  }
}
