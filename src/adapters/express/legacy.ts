/**
 * Migration from express-session without logging anyone out. An existing `connect.sid` cookie
 * (`s:<id>.<mac>`, cookie-signature format: HMAC-SHA256, base64 without padding) is verified with
 * the old secret(s) before any store lookup, its session read from the old store (e.g.
 * connect-redis `sess:<id>`), claimed, copied into a new sessionward session, and then the old
 * entry is deleted and the old cookie cleared — each legacy session is accepted once.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, StoreUnavailableError } from '../../errors.js';
import { parseCookieHeader, serializeCookie } from '../../cookie/index.js';
import type { SessionStore } from '../../stores/types.js';
import { newRecord } from '../../lib/record.js';

/** The part of an express-session `Store` (connect-redis, connect-mongo, ...) migration needs. */
export interface LegacyStore {
  get(sid: string, cb: (err: unknown, session?: Record<string, unknown> | null) => void): unknown;
  destroy(sid: string, cb?: (err?: unknown) => void): unknown;
}

/** A node-redis 5 or ioredis 5 client holding connect-redis-style keys (`<prefix><id>` = JSON). */
export interface LegacyRedis {
  client: { get(key: string): Promise<string | null>; del(key: string | string[]): Promise<number> };
  /** Default `sess:` (connect-redis' default). */
  prefix?: string;
}

export interface LegacyOptions {
  /** The express-session `secret`(s): every one is tried. */
  secrets: string | string[];
  /** Old cookie name. Default `connect.sid`. */
  name?: string;
  /** The old store (callback API), or `redis` below. */
  store?: LegacyStore;
  redis?: LegacyRedis;
  /** Old cookie's Path/Domain, so the clearing cookie replaces it. Default `/`, no domain. */
  cookie?: { path?: string; domain?: string };
  /** Bound on each old-store call (ms). Default 1000. */
  timeoutMs?: number;
  /**
   * How long the old store kept a session after its last save when its cookie had no `expires`
   * (ms). Default 86 400 000 (connect-redis' default TTL). A migrated sign-in never outlives
   * `cookie.expires` or now + `ttlMs`, whichever is sooner.
   */
  ttlMs?: number;
}

export interface LegacyHit {
  /** The old session id (only for deleting it). */
  id: string;
  /** Its data without `cookie`; null when the store no longer has it. */
  data: Record<string, unknown> | null;
  /** The latest time (ms) the old session could still have been used: its cookie's expiry or now + `ttlMs`. */
  notAfter: number;
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype', 'cookie']);

/** cookie-signature's MAC: HMAC-SHA256, base64, trailing `=` removed. */
function mac(value: string, secret: string): string {
  return createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '');
}

/** Verify an `s:<id>.<mac>` value; the id or null. Constant-time per secret, never throws. */
export function unsignLegacy(raw: string, secrets: readonly string[]): string | null {
  if (typeof raw !== 'string' || !raw.startsWith('s:') || raw.length > 1024) return null;
  const signed = raw.slice(2);
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return null;
  const id = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  let found: string | null = null;
  for (const s of secrets) {
    const want = Buffer.from(mac(id, s));
    if (want.length === given.length && timingSafeEqual(want, given)) found = id;
  }
  return found;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new StoreUnavailableError('legacy session store timed out')), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

export interface Legacy {
  readonly name: string;
  /** Set-Cookie value that removes the old cookie. */
  readonly clearCookie: string;
  /** Look at a request's Cookie header: null when it carries no old cookie. */
  read(cookieHeader: string | undefined): Promise<LegacyHit | 'invalid' | null>;
  /**
   * Claim the old session for this request, atomically across every instance sharing the
   * sessionward store: true for exactly one caller until `notAfter` (a create-only marker record),
   * so concurrent replays of one old cookie cannot each mint a session.
   */
  claim(hit: LegacyHit): Promise<boolean>;
  /** Give a claim back when the migrated session could not be committed (the old one stays usable). */
  release(id: string): Promise<void>;
  /** Delete the old entry (after the new session is committed). */
  remove(id: string): Promise<void>;
}

/** When the old session stopped being usable: express-session keeps `cookie.expires` as a Date or an ISO string. */
function legacyDeadline(sess: Record<string, unknown>, now: number, ttlMs: number): number {
  const cookie = sess.cookie as { expires?: unknown } | undefined;
  const e = cookie && typeof cookie === 'object' ? cookie.expires : undefined;
  const t = e instanceof Date ? e.getTime() : typeof e === 'string' ? Date.parse(e) : NaN;
  return Number.isFinite(t) ? Math.min(t, now + ttlMs) : now + ttlMs;
}

/** @internal Build the migration reader from options (validated at start-up). */
export function createLegacy(o: LegacyOptions, into: { store: SessionStore; clock: () => number }): Legacy {
  const secrets = Array.isArray(o.secrets) ? o.secrets : [o.secrets];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigError('legacy.secrets must be the non-empty express-session secret(s)');
  }
  if (!o.store === !o.redis) throw new ConfigError('legacy needs exactly one of `store` or `redis`');
  const name = o.name ?? 'connect.sid';
  const timeoutMs = o.timeoutMs ?? 1000;
  const prefix = o.redis?.prefix ?? 'sess:';
  const ttlMs = o.ttlMs ?? 86_400_000;
  if (!(Number.isSafeInteger(ttlMs) && ttlMs > 0)) throw new ConfigError('legacy.ttlMs must be a positive number of milliseconds');
  // The marker's id is a hash no session token can have (a token is 43 base64url characters;
  // this preimage holds a newline), so it can never be loaded as a session.
  const claimId = (id: string): string => createHash('sha256').update(`sessionward legacy claim\n${name}\n${id}`).digest('base64url');
  const clearCookie = serializeCookie(name, '', { path: o.cookie?.path ?? '/', domain: o.cookie?.domain, maxAge: 0, httpOnly: true });

  const get = async (id: string): Promise<Record<string, unknown> | null> => {
    try {
      if (o.redis) {
        const raw = await withTimeout(o.redis.client.get(prefix + id), timeoutMs);
        if (typeof raw !== 'string') return null;
        try {
          const v = JSON.parse(raw) as unknown;
          return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
        } catch {
          return null;
        }
      }
      const store = o.store!;
      return await withTimeout(
        new Promise<Record<string, unknown> | null>((resolve, reject) => {
          store.get(id, (err, sess) => (err ? reject(err) : resolve(sess && typeof sess === 'object' ? sess : null)));
        }),
        timeoutMs,
      );
    } catch (e) {
      throw e instanceof StoreUnavailableError ? e : new StoreUnavailableError('legacy session store unavailable', { cause: e });
    }
  };

  return {
    name,
    clearCookie,
    async read(header) {
      const raw = parseCookieHeader(header, name)[name];
      if (raw === undefined) return null;
      const id = unsignLegacy(raw, secrets);
      if (id === null) return 'invalid';
      const sess = await get(id);
      const now = into.clock();
      if (!sess) return { id, data: null, notAfter: now };
      const notAfter = legacyDeadline(sess, now, ttlMs);
      // Past its deadline the old store should have dropped it: nothing to carry over.
      if (notAfter <= now) return { id, data: null, notAfter };
      const data: Record<string, unknown> = {};
      for (const k of Object.keys(sess)) if (!UNSAFE_KEYS.has(k) && !k.startsWith('__sw')) data[k] = sess[k];
      return { id, data, notAfter };
    },
    async claim(hit) {
      const now = into.clock();
      return into.store.create(newRecord({ id: claimId(hit.id), now, expiresAt: hit.notAfter }));
    },
    async release(id) {
      await into.store.delete(claimId(id));
    },
    async remove(id) {
      try {
        if (o.redis) await withTimeout(o.redis.client.del(prefix + id), timeoutMs);
        else {
          const store = o.store!;
          await withTimeout(new Promise<void>((resolve, reject) => {
            store.destroy(id, (err) => (err ? reject(err) : resolve()));
          }), timeoutMs);
        }
      } catch (e) {
        throw e instanceof StoreUnavailableError ? e : new StoreUnavailableError('legacy session store unavailable', { cause: e });
      }
    },
  };
}
