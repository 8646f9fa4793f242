import { StoreError, SessionDestroyedError, ThrottledError, SessionConflictError, SessionSupersededError } from '../errors.js';
import { cookieValue, serializeCookie } from '../cookie/index.js';
import { webCrypto } from '../crypto/web.js';
import type { SessionCrypto } from '../crypto/types.js';
import type { SessionRecord, SessionStore } from '../stores/types.js';
import { withData } from '../lib/record.js';
import { eventSink, resolveOptions, type ResolvedOptions, type SessionManagerOptions } from './options.js';
import { signToken, verifyCookieValue, TOKEN_BYTES } from './token.js';
import { Session, mergeChanges, clip, DELETED, type DeviceSession } from './session.js';
import type { SessionEvent, SessionEventType } from './events.js';
import type { EndpointRequest, EndpointResponse } from './guard.js';
import { assertStorableJson, assertUserId, put, storableMeta } from './storable.js';

/** What an adapter knows about the incoming request. Strings only: the core sees no framework objects. */
export interface RequestInfo {
  /** The raw `Cookie` header. */
  cookie?: string | null;
  userAgent?: string | null;
  /** The client IP, or a function that reads it: it is only read when needed (creation, events). */
  ip?: string | null | (() => string | null | undefined);
}

export interface LoadOptions {
  /** @internal Skip the guard: only the guard's own refresh endpoint loads this way. */
  unguarded?: boolean;
}

/** What an adapter must apply to the response: header name/value pairs (Set-Cookie may repeat). */
export interface CommitResult {
  headers: Array<[string, string]>;
}

const MAX_CAS_ATTEMPTS = 1000;
/**
 * Tombstone markers (in `meta.rotation`). ELEVATED: a rotation with re-authentication (login,
 * second factor) — the old token is worth nothing afterwards, and a write still in flight with
 * it is dropped (it was made before the authentication). PRIVILEGE: rotate() on a privilege
 * change — the old token is worth nothing, but an in-flight write of the same signed-in user
 * follows to the successor (it is data, not authority). ENDED: a logout's fence (a pointer to
 * itself) that makes a concurrent rotation fail instead of outliving the logout. Anything else
 * ('renewal'): the old token reaches its successor for the grace window.
 */
const ELEVATED = 'elevated';
const PRIVILEGE = 'privilege';
const ENDED = 'ended';
type RotationKind = typeof ELEVATED | typeof PRIVILEGE | 'renewal';
/** How long a logout fence may outlive a failed delete: it only has to win a race. */
const FENCE_MS = 5_000;
const VERIFIED_CACHE_SIZE = 10_000;

/** The older of two authentication times; null (never authenticated) if either is. */
function olderAuth(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.min(a, b);
}

/** How `end` found a session: ended, absent (or not the given owner's), or replaced by another user's login. */
type Ended = 'ended' | 'gone' | 'foreign';

/** What a new record needs beyond the request: made by `createFor`, applied by `adopt`. */
interface Issued {
  record: SessionRecord;
  token: string;
  json: string;
}

/** Run an update function on a private deep copy; it may mutate the copy or return a new object. */
function applyUpdate(
  fn: (d: Record<string, unknown>) => void | Record<string, unknown>,
  base: Record<string, unknown>,
): Record<string, unknown> {
  const d = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  const r = fn(d);
  return r && typeof r === 'object' ? r : d;
}

/**
 * Jittered exponential backoff between compare-and-set retries: under contention an immediate
 * retry mostly loses again and costs a store round trip; spreading retries lets one writer win per round.
 */
function backoff(attempt: number): Promise<void> | void {
  if (attempt < 2) return;
  const cap = Math.min(1 << attempt, 32);
  const r = globalThis.crypto.getRandomValues(new Uint8Array(1))[0]! / 255;
  return new Promise((resolve) => setTimeout(resolve, Math.floor(r * cap)));
}

function resolveIp<T extends { ip?: RequestInfo['ip'] }>(info: T): Omit<T, 'ip'> & { ip?: string } {
  return { ...info, ip: clip(typeof info.ip === 'function' ? info.ip() : info.ip) };
}

/** @internal The Session's view of the manager. */
export type Engine = SessionManager<any>;

/**
 * The framework-free session engine. One per application; adapters call `load` at the start of a
 * request and `commit` before the response headers are sent.
 *
 * @example
 * const manager = new SessionManager<{ cart: string[] }>({ store: new MemoryStore(), secrets: [process.env.SESSION_KEY!] })
 * const session = await manager.load({ cookie: req.headers.cookie, userAgent, ip })
 * session.set('cart', ['sku-1'])
 * const { headers } = await manager.commit(session)
 */
export class SessionManager<D extends Record<string, unknown> = Record<string, unknown>> {
  /** @internal */ readonly options: ResolvedOptions;
  readonly store: SessionStore;
  /** @internal */ readonly crypto: SessionCrypto;
  private readonly onEvent: ((e: SessionEvent) => void) | undefined;
  private readonly auditKey: Uint8Array;
  private readonly invalidBySource = new Map<string, { count: number; since: number; alerted: boolean }>();
  private readonly clearCookieHeader: string;
  /**
   * Cookie value -> verified token and store id. MAC verification and hashing are deterministic,
   * so repeating them for every request of a live session is pure cost (~4 µs of a ~7 µs budget).
   */
  private readonly verified = new Map<string, { token: string; keyIndex: number; id: string }>();

  constructor(options: SessionManagerOptions) {
    this.options = resolveOptions(options);
    this.store = this.options.store;
    // The core stays free of Node built-ins; the Node entry points pass node:crypto (src/index.ts).
    this.crypto = options.crypto ?? webCrypto;
    // onEvent, plus a logger sink beside it when `logger` is given (options.ts).
    this.onEvent = eventSink(options);
    // SEC-41: events carry HMAC(auditKey, id); with no key ring the key lives only in this process.
    this.auditKey = this.options.keys[0] ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
    this.clearCookieHeader = serializeCookie(this.options.cookieName, '', { ...this.options.cookieAttrs, maxAge: 0, expires: new Date(0) });
    this.options.guard?.attach(this);
  }

  /** Name of the session cookie (e.g. `__Host-sid`). */
  get cookieName(): string {
    return this.options.cookieName;
  }

  /**
   * Resolve the request's session. Unknown, malformed, forged or expired tokens are never adopted:
   * the result is a fresh, unsaved session and the cookie is cleared (SEC-3). Rejects only with
   * typed errors: StoreUnavailableError (503) or ThrottledError (429, when configured).
   */
  async load(req: RequestInfo = {}, opts: LoadOptions = {}): Promise<Session<D>> {
    const o = this.options;
    const info = { ip: req.ip, userAgent: clip(req.userAgent) };
    const raw = cookieValue(req.cookie, o.cookieName);
    if (raw === undefined) return new Session<D>(this, null, null, info);

    let parsed = this.verified.get(raw);
    if (!parsed) {
      const v = await verifyCookieValue(raw, o.keys, this.crypto);
      if (!v) {
        // Only a value that fails our MAC is evidence of forgery; without a key ring a
        // malformed cookie is as likely a stale one from another app on the same host.
        await this.invalid(resolveIp(info), o.keys.length ? 'bad_signature_or_malformed' : 'malformed', o.keys.length > 0);
        return this.fresh(info);
      }
      parsed = { ...v, id: await this.crypto.sha256(v.token) };
      // Only values that verified are cached, so forged cookies cannot fill it; FIFO-bounded.
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(raw, parsed);
    }
    const now = o.clock();
    const id = parsed.id;
    const rec = await this.store.get(id, now);
    if (!rec) {
      // With a key ring the token was ours once: it expired or was destroyed. Without one it may be a guess.
      // Either way it is reported, never counted towards the throttle: an expired token is what
      // every returning visitor sends, and counting it would lock out whole offices behind one IP.
      if (o.keys.length) await this.emitId('token.unknown', id, { ...resolveIp(info), reason: 'unknown_or_expired' });
      else await this.invalid(resolveIp(info), 'unknown', false);
      return this.fresh(info);
    }
    if (rec.rotatedTo) {
      // SEC-15/CWE-384: after a rotation that raised privilege (login, second factor) the old token
      // never reaches the new session — it was anonymous or half-authenticated, so an in-flight
      // request with it loses nothing by staying so. Its cookie is left alone: the login response
      // has replaced it in the browser.
      if (rec.meta.rotation === ELEVATED || rec.meta.rotation === PRIVILEGE) return new Session<D>(this, null, null, info);
      // SEC-18: within the grace window of a renewal an in-flight request with the old token
      // reaches the new session — read-only for security decisions, with the old token's own
      // authentication time (it can never borrow a newer one).
      const next = rec.meta.rotation === ENDED ? null : await this.store.get(rec.rotatedTo, now);
      if (!next || next.rotatedTo || !this.live(next, now) || next.userId !== rec.userId) return this.fresh(info);
      if (o.guard && !opts.unguarded && (await this.refused(next, req, info, now))) return new Session<D>(this, null, null, info);
      const s = new Session<D>(this, next, null, info);
      s.markSuperseded(olderAuth(rec.authTime, next.authTime));
      await this.emitId('token.grace', id, { newSid: await this.sid(next.id), userId: next.userId });
      if (this.onEvent && next.userId !== null) await this.reportRisk(s);
      return s;
    }
    if (!this.live(rec, now)) {
      // The policy may be stricter than when the record was written: enforce it now (SEC-11).
      await this.store.delete(rec.id);
      await this.emitId('session.expired', rec.id, { userId: rec.userId });
      return this.fresh(info);
    }
    // Refused by the device binding: anonymous for this request only. The record and the cookie
    // stay: the device that holds the key refreshes and carries on.
    if (o.guard && !opts.unguarded && (await this.refused(rec, req, info, now))) return new Session<D>(this, null, null, info);
    const s = new Session<D>(this, rec, parsed.token, info);
    if (this.onEvent && rec.userId !== null) await this.reportRisk(s);
    if (parsed.keyIndex > 0) {
      s.issueCookie = true;
      await this.emitId('token.reissued', rec.id, { reason: 'old_key' });
    }
    return s;
  }

  /** Ask the guard about a live record; emits `session.binding_violation` when it refuses. */
  private async refused(rec: SessionRecord, req: RequestInfo, info: { ip?: RequestInfo['ip']; userAgent?: string }, now: number): Promise<boolean> {
    const reason = await this.options.guard!.admit(rec, req, now);
    if (reason === null) return false;
    await this.emitId('session.binding_violation', rec.id, { ...resolveIp(info), userId: rec.userId, reason });
    return true;
  }

  /**
   * Answer an endpoint of the configured guard (DBSC registration and refresh); null when the
   * request is not for one. Adapters call this before `load`.
   */
  async endpoint(req: EndpointRequest): Promise<EndpointResponse | null> {
    return this.options.guard?.endpoint ? this.options.guard.endpoint(req) : null;
  }

  /** A new, unsaved session whose response clears the cookie the client sent. */
  private fresh(info: { ip?: RequestInfo['ip']; userAgent?: string }): Session<D> {
    const s = new Session<D>(this, null, null, info);
    s.clearCookie = true;
    return s;
  }

  /**
   * @internal False when `commit(session)` would write nothing and return no header, decided
   * synchronously (an adapter holding a response can then let it go out at once). Errs towards
   * true: it mirrors commit's decisions below, and true only costs the commit.
   */
  needsCommit(session: Session<D>): boolean {
    if (session.destroyed) return session.clearCookie;
    if (session.issueCookie || session.clearCookie || session.touchRequested) return true;
    const rec = session.record;
    if (rec === null ? session.keepEmpty : this.options.clock() - rec.lastSeenAt >= this.options.touchAfter) return true;
    return session.dataChanged();
  }

  /**
   * Persist the request's changes and return the headers to apply. A read-only request writes
   * nothing unless renewal is due (`touchAfter`).
   */
  async commit(session: Session<D>): Promise<CommitResult> {
    const o = this.options;
    const headers: Array<[string, string]> = [];
    if (session.destroyed) {
      // Cleared once; a session superseded by a concurrent login/logout leaves the cookie alone.
      if (!session.clearCookie) return { headers };
      session.clearCookie = false;
      headers.push(['set-cookie', this.clearCookieHeader], ['cache-control', 'no-store']);
      if (o.clearSiteData) headers.push(['clear-site-data', '"cookies", "storage"']);
      return { headers };
    }
    const now = o.clock();
    const changes = session.changes();
    const rec = session.record;
    if (rec === null) {
      if (changes.size > 0 || session.keepEmpty) await this.adopt(session, await this.createFor(session, null, session.data, false), true);
    } else if (changes.size > 0) {
      if (!(await this.patchData(session, changes, now))) await this.writeMerged(session, changes, now);
      // The write renewed the idle deadline: a persistent cookie rolls with it, as on a touch.
      if (session.cookieMaxAge !== null && session.token) session.issueCookie = true;
    } else if (session.touchRequested || now - rec.lastSeenAt >= o.touchAfter) {
      const expiresAt = Math.min(now + o.idleTimeout, rec.absoluteExpiresAt);
      if (await this.store.touch(rec.id, now, expiresAt, now)) {
        rec.lastSeenAt = now;
        rec.expiresAt = expiresAt;
        // A persistent cookie rolls with the session; a browser-session cookie needs no resend.
        if (session.cookieMaxAge !== null && session.token) session.issueCookie = true;
      }
    }
    if (session.issueCookie && session.token && session.record) {
      const value = await signToken(session.token, o.keys, this.crypto);
      const persist = session.cookieMaxAge;
      const maxAge = persist === null
        ? undefined
        : Math.max(0, Math.floor(Math.min(persist, session.record.absoluteExpiresAt - now) / 1000));
      const expires = maxAge === undefined ? undefined : new Date(now + maxAge * 1000);
      headers.push(['set-cookie', serializeCookie(o.cookieName, value, { ...o.cookieAttrs, maxAge, expires })]);
      session.issueCookie = false;
      if (o.guard?.onIssue) headers.push(...(await o.guard.onIssue(session, now)));
    } else if (session.clearCookie) {
      headers.push(['set-cookie', this.clearCookieHeader]);
      session.clearCookie = false;
    }
    // SEC-13: a response that sets a session cookie must never be cached.
    if (headers.length) headers.push(['cache-control', 'no-store']);
    return { headers };
  }

  /** Every live session of a user with device metadata (admin view, SEC-39). */
  async listUserSessions(userId: string, currentId: string | null = null): Promise<DeviceSession[]> {
    assertUserId(userId);
    const now = this.options.clock();
    const list = await this.store.listByUser(userId, now);
    return list
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
   * End every session of a user (account disabled, password changed), optionally keeping one.
   * Holds on every instance sharing the store (SEC-38, SEC-39).
   */
  async destroyUserSessions(userId: string, exceptId?: string): Promise<number> {
    // An ill-formed userId is refused, not passed on: some stores would look up another user's
    // sessions under it (PostgreSQL turns a lone surrogate into U+FFFD).
    assertUserId(userId);
    const count = await this.store.deleteByUser(userId, exceptId);
    await this.emit('sessions.revoked', null, { userId, count });
    return count;
  }

  /**
   * @internal End one session if it belongs to `userId` ("sign out that device"): exactly as
   * strong as that device's own logout, so a rotation racing it cannot keep the device signed in.
   */
  async destroyOwnedSession(userId: string, id: string): Promise<boolean> {
    if (typeof id !== 'string' || id.length > 64) return false;
    if ((await this.end(id, userId)) === 'gone') return false;
    await this.emitId('session.destroyed', id, { userId, reason: 'revoked_by_user' });
    return true;
  }

  /** @internal */
  async destroy(session: Session<D>): Promise<void> {
    let ended: Ended = 'gone';
    if (session.record) {
      ended = await this.end(session.record.id);
      await this.emit('session.destroyed', session, { userId: session.record.userId });
    }
    session.destroyed = true;
    // A login replaced this session while the request ran: the browser's cookie is the new
    // session's now, and a clearing header arriving after the login response would sign it out.
    session.clearCookie = ended !== 'foreign';
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
  private async end(id: string, owner?: string): Promise<Ended> {
    const o = this.options;
    const chain: string[] = [];
    let first: SessionRecord | null = null;
    let result: 'ended' | 'foreign' = 'ended';
    let at = id;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_CAS_ATTEMPTS) throw new SessionConflictError('too many concurrent updates');
      const now = o.clock();
      const cur = await this.store.get(at, now);
      if (!cur) break;
      if (!first) {
        if (owner !== undefined && cur.userId !== owner) return 'gone';
        first = cur;
      } else if (cur.userId !== first.userId) {
        result = 'foreign';
        break;
      }
      if (cur.rotatedTo) {
        chain.push(at);
        // A fence (ended already) points to itself; the check also stops any cycle.
        if (chain.includes(cur.rotatedTo)) break;
        at = cur.rotatedTo;
        continue;
      }
      const fence: SessionRecord = {
        ...cur,
        data: {},
        version: cur.version + 1,
        rotatedTo: at,
        expiresAt: Math.min(cur.expiresAt, now + FENCE_MS),
        meta: { ...cur.meta, rotation: ENDED },
      };
      if (await this.store.update(fence, cur.version, now)) {
        chain.push(at);
        break;
      }
      await backoff(attempt);
    }
    if (!first) return 'gone';
    // The live end first: once it is gone, nothing the pointers lead to is left.
    for (let i = chain.length - 1; i >= 0; i--) await this.store.delete(chain[i]!);
    return result;
  }

  /** @internal Re-read the record, discarding this request's unsaved changes. */
  async reloadSession(session: Session<D>): Promise<void> {
    if (!session.record) return;
    const fresh = await this.latestOf(session, session.record.id, this.options.clock());
    session.sync(fresh.data);
  }

  /** @internal Atomic read-modify-write with compare-and-set retries. */
  async atomicUpdate(session: Session<D>, fn: (d: Record<string, unknown>) => void | Record<string, unknown>): Promise<void> {
    const o = this.options;
    const pending = session.changes();
    if (session.record === null) {
      // Not persisted yet: nobody else can see it, so apply locally; commit creates it.
      session.data = applyUpdate(fn, session.data) as D;
      return;
    }
    let latest: SessionRecord = withData(session.record, session.baseData());
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const now = o.clock();
      const data = applyUpdate(fn, latest.data);
      assertStorableJson(JSON.stringify(data));
      const next = withData(latest, data, latest.version + 1);
      next.lastSeenAt = now;
      next.expiresAt = Math.min(now + o.idleTimeout, latest.absoluteExpiresAt);
      if (await this.store.update(next, latest.version, now)) {
        session.record = next;
        if (pending.size === 0) {
          // The store holds exactly `data` (stores keep no references): the view is in sync.
          session.sync(data);
          return;
        }
        // Re-apply this request's own unsaved changes on top of the new state.
        const json = JSON.stringify(data);
        const view = JSON.parse(json) as Record<string, unknown>;
        for (const [k, v] of pending) {
          if (typeof v === 'symbol') delete view[k];
          else put(view, k, v);
        }
        session.sync(view, json);
        return;
      }
      await backoff(attempt);
      latest = await this.latestOf(session, latest.id, now);
    }
    throw new SessionConflictError('too many concurrent updates');
  }

  /** @internal Issue a new token and record; tombstone the old one for the grace window. */
  async rotate(
    session: Session<D>,
    next: { userId: string | null; data: Record<string, unknown>; reauthenticated: boolean; renewal?: boolean; carriedOverUntil?: number | undefined },
  ): Promise<void> {
    // A request that reached this session through a pointer holds no authority of its own:
    // letting it rotate would mint a token that outlives the grace (issue: grace takeover), or
    // hand a signed-in token to the request of a token a rotation made worthless.
    session.assertCurrent();
    const old = session.record;
    // Only a renewal keeps the old token useful (for the grace window). After a login, step-up,
    // second factor or privilege change the old token must not carry what it did not have.
    const kind: RotationKind = next.reauthenticated ? ELEVATED : next.renewal ? 'renewal' : PRIVILEGE;
    // What this request loaded, to tell a concurrent writer's changes from its own (parsed only
    // if a concurrent write did land).
    const loadedJson = old ? session.baseJson : null;
    const issued = await this.createFor(session, next.userId, next.data, next.reauthenticated, old, next.carriedOverUntil);
    const replaced = old ? await this.retire(old, issued.record.id, kind) : null;
    if (replaced === 'rotated') {
      // A concurrent request rotated this token first. One token has at most one successor: two
      // would be two live sessions, where a logout of one leaves the other and a one-time value
      // in the data could be spent twice. This request follows the winner's rotation instead.
      await this.store.delete(issued.record.id);
      session.token = null;
      session.issueCookie = false;
      session.markSuperseded(session.authTime);
      throw new SessionSupersededError();
    }
    if (old && replaced === 'ended' && old.userId !== null) {
      // The signed-in session was ended (logout, "log out everywhere") while this request ran:
      // the rotation must not bring it back under a new token.
      await this.store.delete(issued.record.id);
      session.destroyed = true;
      session.clearCookie = true;
      throw new SessionDestroyedError();
    }
    await this.adopt(session, issued, old === null);
    if (loadedJson !== null && typeof replaced === 'object' && replaced !== null && replaced.version !== old!.version && kind !== ELEVATED) {
      await this.carryOver(session, JSON.parse(loadedJson) as Record<string, unknown>, replaced.data);
    }
    await this.emitIds('session.rotated', old?.id ?? null, session.record!.id, { userId: next.userId });
  }

  /**
   * A write with the old token landed between this request's load and its rotation: the copy the
   * successor was made from missed it. Carry the writer's changes over (keys this request left
   * alone; for a key both changed, the rotating request's own value stands), or the renewal would
   * silently lose a concurrent update.
   */
  private async carryOver(session: Session<D>, loaded: Record<string, unknown>, landed: Record<string, unknown>): Promise<void> {
    const changed = [...new Set([...Object.keys(loaded), ...Object.keys(landed)])].filter(
      (k) => JSON.stringify(loaded[k]) !== JSON.stringify(landed[k]),
    );
    if (changed.length === 0) return;
    const id = session.record!.id;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const now = this.options.clock();
      const cur = await this.store.get(id, now);
      if (!cur || cur.rotatedTo) return;
      const data = { ...cur.data };
      for (const k of changed) {
        if (JSON.stringify(cur.data[k]) !== JSON.stringify(loaded[k])) continue;
        if (k in landed) put(data, k, landed[k]);
        else delete data[k];
      }
      const merged = withData(cur, data, cur.version + 1);
      if (await this.store.update(merged, cur.version, now)) {
        session.record = merged;
        session.sync(JSON.parse(JSON.stringify(data)) as Record<string, unknown>);
        return;
      }
      await backoff(attempt);
    }
    throw new SessionConflictError('too many concurrent updates');
  }

  /** Store a new record for this request; the request adopts it only once it is sure to keep it. */
  private async createFor(
    session: Session<D>,
    userId: string | null,
    data: Record<string, unknown>,
    reauthenticated: boolean,
    old: SessionRecord | null = null,
    carriedOverUntil?: number,
  ): Promise<Issued> {
    const o = this.options;
    const now = o.clock();
    const json = JSON.stringify(data);
    assertStorableJson(json);
    const token = this.crypto.randomToken(TOKEN_BYTES);
    const id = await this.crypto.sha256(token);
    // SEC-11: re-authentication restarts both timers; a plain rotation keeps the absolute deadline.
    // A sign-in carried over from elsewhere is not a re-authentication: no authTime (SEC-14), and
    // no deadline later than the one it came with.
    const carried = carriedOverUntil !== undefined;
    const absoluteExpiresAt = carried
      ? Math.min(now + o.absoluteTimeout, carriedOverUntil)
      : reauthenticated || !old ? now + o.absoluteTimeout : old.absoluteExpiresAt;
    const snapshot = JSON.parse(json) as Record<string, unknown>;
    const userAgent = storableMeta(session.userAgent);
    const ip = storableMeta(session.ip);
    const record: SessionRecord = {
      id,
      userId,
      data: snapshot,
      version: 1,
      createdAt: old && !reauthenticated ? old.createdAt : now,
      lastSeenAt: now,
      authTime: carried ? null : reauthenticated ? now : (old?.authTime ?? null),
      absoluteExpiresAt,
      expiresAt: Math.min(now + o.idleTimeout, absoluteExpiresAt),
      meta: { ...(userAgent ? { userAgent } : {}), ...(ip ? { ip } : {}) },
      rotatedTo: null,
    };
    if (!(await this.store.create(record))) throw new StoreError('session id collision');
    return { record, token, json };
  }

  /** This request now holds the new record and its token; the response carries the cookie. */
  private async adopt(session: Session<D>, issued: Issued, created: boolean): Promise<void> {
    session.record = issued.record;
    session.token = issued.token;
    session.sync(JSON.parse(issued.json) as Record<string, unknown>);
    session.issueCookie = true;
    session.clearCookie = false;
    if (created) await this.emit('session.created', session, { userId: issued.record.userId });
  }

  /**
   * Turn the old record into a short-lived pointer to its successor (or delete it when grace is 0).
   * Returns the version it replaced, 'rotated' when a concurrent rotation had replaced it already,
   * or 'ended' when it was gone or fenced (ended concurrently).
   */
  private async retire(old: SessionRecord, successor: string, kind: RotationKind): Promise<SessionRecord | 'rotated' | 'ended'> {
    const o = this.options;
    let latest: SessionRecord | null = old;
    for (let attempt = 0; latest && attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const now = o.clock();
      const tomb: SessionRecord = {
        ...latest,
        // The pointer keeps its owner: "log out everywhere" must end it with the rest (SEC-38).
        data: {},
        version: latest.version + 1,
        rotatedTo: successor,
        // Even without a grace window the pointer is written first: the compare-and-set is what
        // orders this rotation against a concurrent logout's fence.
        expiresAt: Math.min(now + Math.max(o.rotationGrace, 1), latest.expiresAt),
        meta: { ...latest.meta, rotation: kind },
      };
      if (await this.store.update(tomb, latest.version, now)) {
        if (o.rotationGrace === 0) await this.store.delete(old.id);
        return latest;
      }
      latest = await this.store.get(old.id, now);
      if (latest?.rotatedTo) return latest.meta.rotation === ENDED ? 'ended' : 'rotated';
    }
    return 'ended';
  }

  /**
   * A commit that changes only data keys, applied by the store in one step (`store.patch`): no
   * read, no retry, so one user's parallel requests writing different keys never conflict. Under
   * onConflict 'error' each changed key must still hold the value this request loaded. False when
   * the store has no patch or wrote nothing (gone, expired, rotated, a key changed meanwhile, a
   * change it cannot express): writeMerged then handles each of those cases as it always has.
   */
  private async patchData(session: Session<D>, changes: ReadonlyMap<string, unknown>, now: number): Promise<boolean> {
    const store = this.store;
    if (!store.patch) return false;
    assertStorableJson(JSON.stringify(Array.from(changes)));
    const set: Record<string, unknown> = {};
    const del: string[] = [];
    for (const [k, v] of changes) {
      if (v === DELETED) del.push(k);
      else put(set, k, v);
    }
    const base = session.baseData();
    let expect: Record<string, unknown> | undefined;
    if (this.options.onConflict === 'error') {
      expect = {};
      for (const k of changes.keys()) put(expect, k, Object.prototype.hasOwnProperty.call(base, k) ? base[k] : undefined);
    }
    const rec = await store.patch(session.record!.id, { set, del }, { now, expiresAt: now + this.options.idleTimeout, expect, base: withData(session.record!, base) });
    if (!rec) return false;
    // The store hands out its own copy: the record keeps it, the view gets another.
    session.record = rec;
    session.sync(JSON.parse(JSON.stringify(rec.data)) as Record<string, unknown>);
    return true;
  }

  private async writeMerged(session: Session<D>, changes: ReadonlyMap<string, unknown>, now0: number): Promise<void> {
    const o = this.options;
    assertStorableJson(JSON.stringify(Array.from(changes)));
    const base = JSON.parse(session.baseJson) as Record<string, unknown>;
    let latest: SessionRecord = { ...session.record!, data: base };
    let now = now0;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      let data: Record<string, unknown>;
      try {
        data = mergeChanges(latest.data, base, changes, o.onConflict);
      } catch (e) {
        await this.emit('session.conflict', session, {});
        throw e;
      }
      const next: SessionRecord = { ...latest, data, version: latest.version + 1, lastSeenAt: now, expiresAt: Math.min(now + o.idleTimeout, latest.absoluteExpiresAt) };
      if (await this.store.update(next, latest.version, now)) {
        session.record = next;
        // The view now includes what concurrent writers added, so a second commit sees no change.
        session.sync(JSON.parse(JSON.stringify(data)) as Record<string, unknown>);
        return;
      }
      await backoff(attempt);
      try {
        latest = await this.latestOf(session, latest.id, now);
      } catch (e) {
        if (e instanceof SessionDestroyedError) {
          // Ended (logout) or superseded (login) while this request was in flight: write nothing,
          // so nothing is resurrected, and leave the cookie to the request that ended it — a
          // clearing header here could arrive after the login response and sign the user out.
          session.destroyed = true;
          session.clearCookie = false;
          return;
        }
        throw e;
      }
      now = o.clock();
    }
    throw new SessionConflictError('too many concurrent updates');
  }

  /**
   * Latest live version of a record, following one rotation of the same owner; throws if it is
   * gone. A request that follows a pointer is superseded from then on: it may write data (its
   * user's, made before the rotation), never obtain a token (issue 20 finding 2).
   */
  private async latestOf(session: Session<D>, id: string, now: number): Promise<SessionRecord> {
    let fresh = await this.store.get(id, now);
    if (fresh?.rotatedTo) {
      // A write from before a privilege-raising rotation never lands in the raised session; a
      // fence (ENDED) is a logout.
      if (fresh.meta.rotation === ELEVATED || fresh.meta.rotation === ENDED) throw new SessionDestroyedError();
      const owner = fresh.userId;
      const own = session.authTime;
      fresh = await this.store.get(fresh.rotatedTo, now);
      if (!fresh || fresh.rotatedTo || fresh.userId !== owner) throw new SessionDestroyedError();
      // The request now writes to the successor; its cookie is already with the client.
      session.token = null;
      session.issueCookie = false;
      session.markSuperseded(olderAuth(own, fresh.authTime));
    }
    if (!fresh || fresh.rotatedTo) throw new SessionDestroyedError();
    session.record = fresh;
    return fresh;
  }

  /** SEC-35: one `session.anomaly` event per session and new network/browser (bounded, in-process). */
  private async reportRisk(s: Session<D>): Promise<void> {
    for (const signal of s.riskSignals) {
      const key = `${s.id}:${signal}:${signal === 'ip_change' ? s.ip : s.userAgent}`;
      if (this.riskSeen.has(key)) continue;
      if (this.riskSeen.size >= 10_000) this.riskSeen.delete(this.riskSeen.values().next().value as string);
      this.riskSeen.add(key);
      await this.emit('session.anomaly', s, { reason: signal });
    }
  }
  private readonly riskSeen = new Set<string>();

  private live(r: SessionRecord, now: number): boolean {
    const o = this.options;
    return r.expiresAt > now && r.absoluteExpiresAt > now && r.lastSeenAt + o.idleTimeout > now;
  }

  private async invalid(info: { ip?: string; userAgent?: string }, reason: string, forged: boolean): Promise<void> {
    await this.emit('token.invalid', null, { ...info, reason });
    // SEC-42: count forged tokens (failed MAC) per source in a bounded map. A source we cannot
    // tell apart (no IP from the adapter, or every client behind one proxy) is never counted:
    // one shared bucket would let a single attacker lock everybody out.
    if (!forged || !info.ip) return;
    const lim = this.options.invalidTokenLimit;
    const key = info.ip;
    const now = this.options.clock();
    let e = this.invalidBySource.get(key);
    if (!e || now - e.since > lim.windowMs) {
      if (this.invalidBySource.size >= 10_000) this.invalidBySource.delete(this.invalidBySource.keys().next().value as string);
      e = { count: 0, since: now, alerted: false };
      this.invalidBySource.set(key, e);
    }
    e.count++;
    if (e.count > lim.max) {
      if (!e.alerted) {
        e.alerted = true;
        await this.emit('alert.invalid_tokens', null, { ...info, count: e.count, reason: lim.action });
      }
      if (lim.action === 'throttle') {
        // The refused cookie is cleared with the 429, or the browser would send it again forever.
        const retry = Math.max(1, Math.ceil((e.since + lim.windowMs - now) / 1000));
        throw new ThrottledError(undefined, [
          ['set-cookie', this.clearCookieHeader],
          ['retry-after', String(retry)],
          ['cache-control', 'no-store'],
        ]);
      }
    }
  }

  /** Keyed hash of a store id for events and logs (SEC-41). */
  async sid(id: string): Promise<string> {
    return (await this.crypto.hmac(this.auditKey, `sid:${id}`)).slice(0, 22);
  }

  /** @internal */
  async emit(type: SessionEventType, session: Session<D> | null, extra: Partial<SessionEvent>): Promise<void> {
    if (!this.onEvent) return;
    const id = session?.record?.id;
    await this.emitId(type, id ?? null, { ...(session ? { userId: session.userId, ip: session.ip, userAgent: session.userAgent } : {}), ...extra });
  }

  private async emitIds(type: SessionEventType, oldId: string | null, newId: string, extra: Partial<SessionEvent>): Promise<void> {
    if (!this.onEvent) return;
    await this.emitId(type, oldId, { ...extra, newSid: await this.sid(newId) });
  }

  private async emitId(type: SessionEventType, id: string | null, extra: Partial<SessionEvent>): Promise<void> {
    if (!this.onEvent) return;
    const e: SessionEvent = { type, at: new Date(this.options.clock()).toISOString(), ...extra };
    if (id) e.sid = await this.sid(id);
    for (const k of Object.keys(e) as (keyof SessionEvent)[]) if (e[k] === undefined) delete e[k];
    try {
      this.onEvent(e);
    } catch {
      // A failing event sink must never break a request.
    }
  }
}
