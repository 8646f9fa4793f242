import { StoreError, SessionDestroyedError, ThrottledError, SessionSupersededError } from '../errors.js';
import { cookieValue } from '../cookie/index.js';
import { webCrypto } from '../crypto/web.js';
import type { SessionCrypto } from '../crypto/types.js';
import type { SessionStore } from '../stores/types.js';
import { withData, type SessionRecord } from '../lib/record.js';
import { takeJson } from '../lib/data-json.js';
import { eventSink, resolveOptions, type ResolvedOptions, type SessionManagerOptions } from './options.js';
import { signToken, verifyCookieValue, TOKEN_BYTES } from './token.js';
import { clearingCookie, sessionCookie } from './session-cookie.js';
import { Session, type DeviceSession, type RotationRequest, type SessionEngine } from './session.js';
import type { SessionEvent, SessionEventType } from './events.js';
import type { EndpointRequest, EndpointResponse } from './guard.js';
import { assertStorableJson, assertUserId, clip, storableMeta } from './storable.js';
import { reapply, type Changes } from './changes.js';
import { patchChanges } from './data-patch.js';
import { resolveIp, type CommitOptions, type CommitResult, type LoadOptions, type RequestInfo } from './request.js';
import { InvalidTokenThrottle } from './throttle.js';
import { AuditTrail } from './audit.js';
import * as protocol from './record-protocol.js';
import { ELEVATED, PRIVILEGE, olderAuth, type Ended, type RotationKind } from './record-protocol.js';

export type { RequestInfo, LoadOptions, CommitOptions, CommitResult } from './request.js';

const VERIFIED_CACHE_SIZE = 10_000;
/** Commit's default: shared, so a plain commit (the hot path) allocates no options object. */
const NO_OPTIONS: CommitOptions = Object.freeze({});

/** What a new record needs beyond the request: made by `createFor`, applied by `adopt`. */
interface Issued {
  record: SessionRecord;
  token: string;
  json: string;
}

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
export class SessionManager<D extends Record<string, unknown> = Record<string, unknown>> implements SessionEngine {
  /** @internal */ readonly options: ResolvedOptions;
  readonly store: SessionStore;
  /** @internal */ readonly crypto: SessionCrypto;
  private readonly onEvent: ((e: SessionEvent) => void) | undefined;
  private readonly audit: AuditTrail;
  private readonly throttle: InvalidTokenThrottle;
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
    // SEC-41: events carry HMAC(key, id); with no key ring the key lives only in this process.
    this.audit = new AuditTrail(this.crypto, this.options.clock, this.onEvent, this.options.keys[0]);
    this.throttle = new InvalidTokenThrottle(this.options.invalidTokenLimit);
    this.clearCookieHeader = clearingCookie(this.options);
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
    // Taken at once: nothing has touched the data since the store parsed it (lib/data-json.ts).
    const json = rec && takeJson(rec.data);
    if (!rec) {
      // With a key ring the token was ours once: it expired or was destroyed. Without one it may be a guess.
      // Either way it is reported, never counted towards the throttle: an expired token is what
      // every returning visitor sends, and counting it would lock out whole offices behind one IP.
      if (o.keys.length) await this.emitId('token.unknown', id, { ...resolveIp(info), reason: 'unknown_or_expired' });
      else await this.invalid(resolveIp(info), 'unknown', false);
      return this.fresh(info);
    }
    if (rec.rotatedTo) {
      // SEC-15/CWE-384: a token a login made worthless stays anonymous; its cookie is left alone
      // (the login response has replaced it). SEC-18: within a renewal's grace window the old
      // token reaches the new session, read-only for security decisions, with its own authTime.
      const next = await protocol.graceSuccessor(o, rec, now);
      if (next === 'worthless') return new Session<D>(this, null, null, info);
      if (next === null) return this.fresh(info);
      if (o.guard && !opts.unguarded && (await this.refused(next, req, info, now))) return new Session<D>(this, null, null, info);
      const s = new Session<D>(this, next, null, info);
      s.markSuperseded(olderAuth(rec.authTime, next.authTime));
      await this.emitId('token.grace', id, { newSid: await this.sid(next.id), userId: next.userId });
      if (this.onEvent && next.userId !== null) await this.reportRisk(s);
      return s;
    }
    if (!protocol.isLive(o, rec, now)) {
      // The policy may be stricter than when the record was written: enforce it now (SEC-11).
      await this.store.delete(rec.id);
      await this.emitId('session.expired', rec.id, { userId: rec.userId });
      return this.fresh(info);
    }
    // Refused by the device binding: anonymous for this request only. The record and the cookie
    // stay: the device that holds the key refreshes and carries on.
    if (o.guard && !opts.unguarded && (await this.refused(rec, req, info, now))) return new Session<D>(this, null, null, info);
    const s = new Session<D>(this, rec, parsed.token, info, json);
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
  needsCommit(session: Session<D>, opts: CommitOptions = NO_OPTIONS): boolean {
    if (session.destroyed) return session.clearCookie;
    if (session.issueCookie || session.clearCookie || session.touchRequested) return true;
    if (opts.reissueCookie && session.token) return true;
    const rec = session.record;
    if (rec === null ? opts.saveEmpty === true : this.options.clock() - rec.lastSeenAt >= this.options.touchAfter) return true;
    return session.dataChanged();
  }

  /**
   * Persist the request's changes and return the headers to apply. A read-only request writes
   * nothing unless renewal is due (`touchAfter`) or `opts` ask for it.
   */
  async commit(session: Session<D>, opts: CommitOptions = NO_OPTIONS): Promise<CommitResult> {
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
    if (opts.reissueCookie && session.token) session.issueCookie = true;
    const now = o.clock();
    const changes = session.changes();
    const rec = session.record;
    if (rec === null) {
      if (changes.size > 0 || opts.saveEmpty) await this.adopt(session, await this.createFor(session, { userId: null, data: session.data, reauthenticated: false }), true);
    } else if (changes.size > 0) {
      // One store.patch when the store has one (data-patch.ts), else compare-and-set.
      const patched = await patchChanges(this.store, o, rec, session.baseData(), changes, now);
      if (!patched) await this.writeChanges(session, changes, now);
      else session.syncRecord(patched);
      // The write renewed the idle deadline: a persistent cookie rolls with it, as on a touch.
      if (session.cookieMaxAge !== null && session.token) session.issueCookie = true;
    } else if (session.touchRequested || now - rec.lastSeenAt >= o.touchAfter) {
      // A persistent cookie rolls with the session; a browser-session cookie needs no resend.
      if ((await protocol.touch(o, rec, now)) && session.cookieMaxAge !== null && session.token) session.issueCookie = true;
    }
    if (session.issueCookie && session.token && session.record) {
      const value = await signToken(session.token, o.keys, this.crypto);
      headers.push(['set-cookie', sessionCookie(o, value, session.cookieMaxAge, session.record.absoluteExpiresAt, now)]);
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
    return protocol.deviceSessions(await this.store.listByUser(userId, now), userId, currentId, now);
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
    if ((await protocol.endChain(this.options, id, userId)) === 'gone') return false;
    await this.emitId('session.destroyed', id, { userId, reason: 'revoked_by_user' });
    return true;
  }

  /** @internal */
  async destroy(session: Session<D>): Promise<void> {
    let ended: Ended = 'gone';
    if (session.record) {
      ended = await protocol.endChain(this.options, session.record.id);
      await this.emit('session.destroyed', session, { userId: session.record.userId });
    }
    session.destroyed = true;
    // A login replaced this session while the request ran: the browser's cookie is the new
    // session's now, and a clearing header arriving after the login response would sign it out.
    session.clearCookie = ended !== 'foreign';
  }

  /** @internal Re-read the record, discarding this request's unsaved changes. */
  async reloadSession(session: Session<D>): Promise<void> {
    if (!session.record) return;
    const fresh = await this.latestOf(session, session.record.id, this.options.clock());
    session.sync(fresh.data);
  }

  /** @internal Atomic read-modify-write with compare-and-set retries. */
  async atomicUpdate(session: Session<D>, fn: (d: Record<string, unknown>) => void | Record<string, unknown>): Promise<void> {
    const pending = session.changes();
    if (session.record === null) {
      // Not persisted yet: nobody else can see it, so apply locally; commit creates it.
      session.data = protocol.applyUpdate(fn, session.data) as D;
      return;
    }
    const next = await protocol.atomicWrite(this.options, this.hooks, session, withData(session.record, session.baseData()), fn, session.baseJson);
    session.record = next;
    // The store holds exactly the data written (stores keep no references): the view is in sync;
    // this request's own unsaved changes are re-applied on top of the new state.
    const text = takeJson(next.data);
    if (pending.size === 0) return session.sync(next.data, null, text);
    const json = text ?? JSON.stringify(next.data);
    session.sync(reapply(json, pending), json);
  }

  /** @internal Issue a new token and record; tombstone the old one for the grace window. */
  async rotate(session: Session<D>, next: RotationRequest): Promise<void> {
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
    const issued = await this.createFor(session, next, old);
    const replaced = old ? await protocol.retire(this.options, old, issued.record.id, kind) : null;
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
      // A write with the old token landed between this request's load and its rotation: without
      // the carry-over the renewal would silently lose a concurrent update.
      const merged = await protocol.carryOver(this.options, issued.record.id, JSON.parse(loadedJson) as Record<string, unknown>, replaced.data);
      if (merged) session.syncRecord(merged);
    }
    if (this.onEvent) await this.emitId('session.rotated', old?.id ?? null, { userId: next.userId, newSid: await this.sid(session.record!.id) });
  }

  /** Store a new record for this request; the request adopts it only once it is sure to keep it. */
  private async createFor(session: Session<D>, next: RotationRequest, old: SessionRecord | null = null): Promise<Issued> {
    const json = JSON.stringify(next.data);
    assertStorableJson(json);
    const token = this.crypto.randomToken(TOKEN_BYTES);
    const id = await this.crypto.sha256(token);
    const userAgent = storableMeta(session.userAgent);
    const ip = storableMeta(session.ip);
    const meta = { ...(userAgent ? { userAgent } : {}), ...(ip ? { ip } : {}) };
    const data = JSON.parse(json) as Record<string, unknown>;
    const record = protocol.sessionRecord(this.options, this.options.clock(), { ...next, id, data, old, meta });
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
   * Commit's data write: the request's per-key changes over whatever the store holds now. A
   * session ended (logout) or superseded (login) while the request was in flight writes nothing,
   * so nothing is resurrected, and leaves the cookie to the request that ended it — a clearing
   * header here could arrive after the login response and sign the user out.
   */
  private async writeChanges(session: Session<D>, changes: Changes, now: number): Promise<void> {
    assertStorableJson(JSON.stringify(Array.from(changes)));
    let written: SessionRecord;
    try {
      // The parsed base the diff (and a declined patch) already used: read, never changed.
      written = await protocol.writeChanges(this.options, this.hooks, session, session.record!, session.baseData(), changes, now);
    } catch (e) {
      if (!(e instanceof SessionDestroyedError)) throw e;
      session.destroyed = true;
      session.clearCookie = false;
      return;
    }
    // The view now includes what concurrent writers added, so a second commit sees no change.
    session.syncRecord(written);
  }

  /** What the protocol's retry loops call back into for a request's session. */
  private readonly hooks: protocol.WriteHooks<Session<D>> = {
    reread: (session, id, now) => this.latestOf(session, id, now),
    conflict: (session) => this.emit('session.conflict', session, {}),
  };

  /**
   * Latest live version of a record, following one rotation of the same owner; throws if it is
   * gone. A request that follows a pointer is superseded from then on: it may write data (its
   * user's, made before the rotation), never obtain a token (issue 20 finding 2).
   */
  private async latestOf(session: Session<D>, id: string, now: number): Promise<SessionRecord> {
    const own = session.authTime;
    const { record, followed } = await protocol.latest(this.options, id, now);
    if (followed) {
      // The request now writes to the successor; its cookie is already with the client.
      session.token = null;
      session.issueCookie = false;
      session.markSuperseded(olderAuth(own, record.authTime));
    }
    session.record = record;
    return record;
  }

  /** SEC-35: one `session.anomaly` event per session and new network/browser (bounded, in-process). */
  private async reportRisk(s: Session<D>): Promise<void> {
    for (const signal of s.riskSignals) {
      if (this.audit.firstTime(`${s.id}:${signal}:${signal === 'ip_change' ? s.ip : s.userAgent}`)) await this.emit('session.anomaly', s, { reason: signal });
    }
  }

  private async invalid(info: { ip?: string; userAgent?: string }, reason: string, forged: boolean): Promise<void> {
    await this.emit('token.invalid', null, { ...info, reason });
    // SEC-42: only forged tokens (failed MAC) from a source we can tell apart are counted.
    if (!forged || !info.ip) return;
    const verdict = this.throttle.hit(info.ip, this.options.clock());
    if (!verdict) return;
    if (verdict.alert) await this.emit('alert.invalid_tokens', null, { ...info, count: verdict.count, reason: this.options.invalidTokenLimit.action });
    if (verdict.retryAfter !== null) {
      // The refused cookie is cleared with the 429, or the browser would send it again forever.
      throw new ThrottledError(undefined, [
        ['set-cookie', this.clearCookieHeader],
        ['retry-after', String(verdict.retryAfter)],
        ['cache-control', 'no-store'],
      ]);
    }
  }

  /** Keyed hash of a store id for events and logs (SEC-41). */
  async sid(id: string): Promise<string> {
    return this.audit.sid(id);
  }

  /** @internal */
  async emit(type: SessionEventType, session: Session<D> | null, extra: Partial<SessionEvent>): Promise<void> {
    if (!this.onEvent) return;
    const id = session?.record?.id;
    await this.emitId(type, id ?? null, { ...(session ? { userId: session.userId, ip: session.ip, userAgent: session.userAgent } : {}), ...extra });
  }

  private emitId(type: SessionEventType, id: string | null, extra: Partial<SessionEvent>): Promise<void> {
    return this.audit.emit(type, id, extra);
  }
}
