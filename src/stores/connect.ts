/**
 * Use any sessionward store (SQLite, PostgreSQL, Redis, memory) as an express-session store.
 * express-session is not a dependency: this is a plain EventEmitter with the callback API that
 * express-session calls, plus the helpers its `Store` base class would give.
 *
 * @example
 * import session from 'express-session'
 * import { SqliteStore } from 'sessionward/stores/sqlite'
 * import { toExpressSessionStore } from 'sessionward/stores/connect'
 * app.use(session({
 *   store: toExpressSessionStore(new SqliteStore()),
 *   secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false,
 * }))
 */
import { EventEmitter } from 'node:events';
import { sha256Sync } from '../crypto/node.js';
import { ConfigError, SessionConflictError, StoreError } from '../errors.js';
import type { SessionRecord, SessionStore } from './types.js';
import { casRetry, RETRY } from '../lib/backoff.js';
import { newRecord, nextVersion } from '../lib/record.js';

/**
 * What express-session hands to a store: the application's fields plus `cookie`. Kept structural
 * (no index signature) so the bridge type-checks as express-session's `Store` without depending
 * on its types.
 */
export interface ExpressSessionData {
  cookie?: {
    expires?: string | Date | null;
    originalMaxAge?: number | null;
  };
}

type Cb<T = void> = (err?: any, value?: T) => void;

/** Stores that can list, count and empty themselves (SqliteStore and PostgresStore can). */
export interface EnumerableSessionStore extends SessionStore {
  all(now: number): Promise<SessionRecord[]>;
  count(now: number): Promise<number>;
  clear(): Promise<void>;
}

export interface ExpressSessionBridgeOptions {
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). Default 1 day. */
  defaultTtlMs?: number;
  /**
   * Hard end of every session, counted from its creation, that no activity extends (SEC-11).
   * express-session has no such notion; the bridge adds one. Default 30 days.
   */
  absoluteTimeoutMs?: number;
  /**
   * Owner of a session for the per-user index (`listByUser`, `deleteByUser`).
   * Default: passport's `sess.passport.user` when it is a string or number.
   */
  userId?: (sess: Record<string, unknown>) => string | null;
  /** Attempts of the read-modify-write behind `set` before it gives up with a conflict. Default 20. */
  maxAttempts?: number;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
}

// Marks a Session that came out of the store (as opposed to a freshly generated one), so that a
// late `set` from a request in flight never brings back a session that was destroyed meanwhile.
const LOADED = Symbol('sessionward.loaded');

type Ctor = new (...args: any[]) => any;

function defaultUserId(sess: Record<string, unknown>): string | null {
  const p = sess.passport as { user?: unknown } | undefined;
  const u = p && typeof p === 'object' ? p.user : undefined;
  return typeof u === 'string' || typeof u === 'number' ? String(u) : null;
}

function isEnumerable(s: SessionStore): s is EnumerableSessionStore {
  const e = s as Partial<EnumerableSessionStore>;
  return typeof e.all === 'function' && typeof e.count === 'function' && typeof e.clear === 'function';
}

function done<T>(p: Promise<T>, cb: Cb<T> | undefined): void {
  p.then(
    (v) => cb?.(null, v),
    (e: unknown) => cb?.(e),
  );
}

/**
 * The express-session store. Raw session ids never reach the underlying store: each sid is
 * mapped to its SHA-256 (SEC-21), so `all()` lists sessions without their sids.
 *
 * @example
 * const store = new ExpressSessionStore(new PostgresStore({ pool }), { absoluteTimeoutMs: 7 * 86_400_000 })
 */
export class ExpressSessionStore extends EventEmitter {
  /** Set by express-session when the store is handed to it. */
  generate?: (req: any) => void;
  readonly store: SessionStore;
  private readonly defaultTtlMs: number;
  private readonly absoluteTimeoutMs: number;
  private readonly userIdOf: (sess: Record<string, unknown>) => string | null;
  private readonly maxAttempts: number;
  private readonly now: () => number;
  private classes: { Session: Ctor; Cookie: Ctor } | undefined;

  constructor(store: SessionStore, options: ExpressSessionBridgeOptions = {}) {
    super();
    this.store = store;
    this.defaultTtlMs = options.defaultTtlMs ?? 86_400_000;
    this.absoluteTimeoutMs = options.absoluteTimeoutMs ?? 30 * 86_400_000;
    if (!(this.defaultTtlMs > 0) || !(this.absoluteTimeoutMs > 0)) {
      throw new ConfigError('toExpressSessionStore: defaultTtlMs and absoluteTimeoutMs must be > 0');
    }
    this.userIdOf = options.userId ?? defaultUserId;
    this.maxAttempts = options.maxAttempts ?? 20;
    this.now = options.now ?? Date.now;
  }

  /** Store id of an express-session sid. */
  static idOf(sid: string): string {
    return sha256Sync(sid);
  }

  private expiryOf(sess: ExpressSessionData, now: number): number {
    const raw = sess.cookie?.expires;
    if (raw !== undefined && raw !== null) {
      const t = new Date(raw).getTime();
      if (Number.isFinite(t)) return t;
    }
    return now + this.defaultTtlMs;
  }

  // `any` for what goes back to express-session: its SessionData is whatever the app declared.
  get(sid: string, cb: Cb<any>): void {
    done(
      (async () => {
        const r = await this.store.get(sha256Sync(String(sid)), this.now());
        if (!r || r.rotatedTo) return null;
        // A fresh copy: express-session mutates what it gets (cookie becomes a Cookie instance).
        return structuredClone(r.data) as ExpressSessionData;
      })(),
      cb,
    );
  }

  set(sid: string, sess: ExpressSessionData, cb?: Cb): void {
    done(this.write(String(sid), sess), cb);
  }

  private async write(sid: string, sess: ExpressSessionData): Promise<void> {
    const id = sha256Sync(sid);
    const loaded = (sess as Record<symbol, unknown>)[LOADED] === true;
    const data = JSON.parse(JSON.stringify(sess)) as Record<string, unknown>;
    const userId = this.userIdOf(data);
    // Last writer wins, so a lost round is retried at once: there is no merge to wait for.
    return casRetry(async () => {
      const now = this.now();
      const expiry = this.expiryOf(sess, now);
      const cur = await this.store.get(id, now);
      if (!cur) {
        // Destroyed (or expired) while this request held it: stay gone.
        if (loaded || expiry <= now) return;
        const absoluteExpiresAt = now + this.absoluteTimeoutMs;
        const ok = await this.store.create(newRecord({ id, now, userId, data, absoluteExpiresAt, expiresAt: Math.min(expiry, absoluteExpiresAt) }));
        return ok ? undefined : RETRY;
      }
      if (expiry <= now) return this.store.delete(id);
      // express-session semantics: the whole session object, last writer wins.
      const next = nextVersion(cur, { userId, data, lastSeenAt: now, expiresAt: Math.min(expiry, cur.absoluteExpiresAt), rotatedTo: null });
      return (await this.store.update(next, cur.version, now)) ? undefined : RETRY;
    }, {
      attempts: this.maxAttempts,
      wait: false,
      exhausted: () => {
        throw new SessionConflictError();
      },
    });
  }

  touch(sid: string, sess: ExpressSessionData, cb?: Cb): void {
    const now = this.now();
    done(
      this.store.touch(sha256Sync(String(sid)), now, this.expiryOf(sess, now), now).then(() => undefined),
      cb,
    );
  }

  destroy(sid: string, cb?: Cb): void {
    done(this.store.delete(sha256Sync(String(sid))), cb);
  }

  /** Live sessions (without their sids, which the store never saw). Needs an enumerable store. */
  all(cb: Cb<any[]>): void {
    const s = this.store;
    if (!isEnumerable(s)) return cb(new StoreError(`store "${s.name}" cannot list sessions`));
    done(
      s.all(this.now()).then((rs) => rs.map((r) => ({ ...(r.data as ExpressSessionData), id: r.id }))),
      cb,
    );
  }

  length(cb: Cb<number>): void {
    const s = this.store;
    if (!isEnumerable(s)) return cb(new StoreError(`store "${s.name}" cannot count sessions`));
    done(s.count(this.now()), cb);
  }

  /** Empties the whole underlying table: give the bridge a store of its own. */
  clear(cb?: Cb): void {
    const s = this.store;
    if (!isEnumerable(s)) return cb?.(new StoreError(`store "${s.name}" cannot be cleared`));
    done(s.clear(), cb);
  }

  // --- What express-session's Store base class provides (session/store.js), rebuilt here. ---

  regenerate(req: any, fn: Cb): void {
    this.destroy(req.sessionID, (err) => {
      this.generate?.(req);
      fn(err);
    });
  }

  load(sid: string, fn: Cb<any>): void {
    this.get(sid, (err, sess) => {
      if (err) return fn(err);
      if (!sess) return fn();
      const req = { sessionID: sid, sessionStore: this, headers: {} };
      try {
        fn(null, this.createSession(req, sess));
      } catch (e) {
        fn(e);
      }
    });
  }

  /**
   * Turn stored JSON back into express-session's `Session` with a `Cookie`. Those classes are not
   * exported by express-session; the `generate` it installs on the store builds one of each, so
   * the first call borrows their constructors from a generated session (once per store).
   */
  createSession(req: any, sess: ExpressSessionData): any {
    const { Session, Cookie } = this.sessionClasses(req);
    const cookie = sess.cookie ?? {};
    const expires = cookie.expires;
    const originalMaxAge = cookie.originalMaxAge;
    const c = new Cookie(cookie);
    if (typeof expires === 'string') c.expires = new Date(expires);
    c.originalMaxAge = originalMaxAge;
    sess.cookie = c;
    req.session = new Session(req, sess);
    Object.defineProperty(req.session, LOADED, { value: true });
    return req.session;
  }

  private sessionClasses(req: any): { Session: Ctor; Cookie: Ctor } {
    if (this.classes) return this.classes;
    if (typeof this.generate !== 'function') {
      throw new ConfigError('pass this store to express-session({ store }) before loading sessions');
    }
    const savedId = req.sessionID;
    const savedSession = req.session;
    try {
      this.generate(req);
      const s = req.session;
      this.classes = { Session: s.constructor as Ctor, Cookie: s.cookie.constructor as Ctor };
    } finally {
      req.sessionID = savedId;
      req.session = savedSession;
    }
    return this.classes;
  }
}

/**
 * Wrap a sessionward store for express-session.
 *
 * @example
 * app.use(session({ store: toExpressSessionStore(store), secret, resave: false, saveUninitialized: false }))
 */
export function toExpressSessionStore(store: SessionStore, options?: ExpressSessionBridgeOptions): ExpressSessionStore {
  return new ExpressSessionStore(store, options);
}
