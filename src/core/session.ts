import {
  ReauthRequiredError,
  SessionDestroyedError,
  UnauthenticatedError,
  InvalidInputError,
  SessionSupersededError,
} from '../errors.js';
import type { SessionRecord } from '../lib/record.js';
import { takeJson } from '../lib/data-json.js';
import { bindingOf, type BindingKind } from './binding.js';
import { NO_CHANGES, diffKeys, type Changes } from './changes.js';
import type { SessionEvent, SessionEventType } from './events.js';
import { assertUserId, clip, put } from './storable.js';
import { AUTH_KEY, MAX_COOKIE_AGE_MS, authState, loginData, stepData, type AuthState, type LoginOptions } from './auth-state.js';

export { AUTH_KEY, type LoginOptions };

export interface DeviceSession {
  /** Store id of the session (a hash; usable with `destroySession`). */
  id: string;
  current: boolean;
  userAgent?: string;
  ip?: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  authTime: number | null;
}

/** @internal What a session asks its manager to do: a new token and record, with this data. */
export interface RotationRequest {
  userId: string | null;
  data: Record<string, unknown>;
  /** Login or a completed step: the old token is worth nothing afterwards (SEC-15, SEC-17). */
  reauthenticated: boolean;
  /** A periodic renewal: the old token reaches the successor for the grace window (SEC-18). */
  renewal?: boolean;
  carriedOverUntil?: number | undefined;
}

/**
 * @internal The narrow view a Session has of its manager. Declared here, implemented by
 * SessionManager: the session module imports nothing from the manager.
 */
export interface SessionEngine {
  readonly options: { readonly cookieMaxAge: number | undefined; readonly preLoginKeys: readonly string[]; readonly clock: () => number };
  atomicUpdate(session: Session<any>, fn: (d: Record<string, unknown>) => void | Record<string, unknown>): Promise<void>;
  reloadSession(session: Session<any>): Promise<void>;
  rotate(session: Session<any>, next: RotationRequest): Promise<void>;
  destroy(session: Session<any>): Promise<void>;
  emit(type: SessionEventType, session: Session<any> | null, extra: Partial<SessionEvent>): Promise<void>;
  listUserSessions(userId: string, currentId: string | null): Promise<DeviceSession[]>;
  destroyOwnedSession(userId: string, id: string): Promise<boolean>;
  destroyUserSessions(userId: string, exceptId?: string): Promise<number>;
}

/**
 * One request's view of a session. Framework-free: adapters create it with
 * `manager.load(...)` and finish it with `manager.commit(session)`.
 *
 * Plain `set`/`delete` (and direct mutation of `data`) are change-detected and written at commit
 * with a per-key merge over concurrent writers; `update(fn)` is an atomic read-modify-write.
 */
export class Session<D extends Record<string, unknown> = Record<string, unknown>> {
  /** @internal */ record: SessionRecord | null;
  /** Raw token of this request's cookie: private, so it never shows up when a session is logged or inspected. */
  #token: string | null;
  readonly #engine: SessionEngine;
  /** @internal set when the response must carry a (new) cookie. */
  issueCookie = false;
  /** @internal set when the response must clear the cookie. */
  clearCookie = false;
  /**
   * @internal The request reached its record through a rotation pointer — at load (grace window),
   * by following one on a write or reload, or by losing a concurrent rotation. Such a request
   * holds no authority of its own: it may read and write data, never make a security decision.
   */
  superseded = false;
  /** @internal authentication time of the superseded token that reached this session. */
  ownAuthTime: number | null = null;
  /** @internal the session was destroyed by this request. */
  destroyed = false;
  /** @internal renew activity at commit even if `touchAfter` has not elapsed. */
  touchRequested = false;
  /** @internal */ readonly userAgent: string | undefined;
  #data: D;
  /**
   * JSON of `data` as last synchronised with the store, taken when the application first reaches
   * `data`; null while it has not, which means "unchanged": a request that never looks at the
   * data pays for no serialisation at all (the hot read path).
   */
  #base: string | null = null;
  /** The text the store parsed `data` from (lib/data-json.ts): what `#base` becomes, for free. */
  #json: string | null;
  /** `#base` parsed, once per synchronised state: the diff and the write share it, neither changes it. */
  #baseData: Record<string, unknown> | null = null;
  #ip: string | null | undefined | (() => string | null | undefined);
  #ipResolved = false;

  /** @internal */
  constructor(
    engine: SessionEngine,
    record: SessionRecord | null,
    token: string | null,
    req: { ip?: string | null | (() => string | null | undefined); userAgent?: string },
    json: string | null = null,
  ) {
    this.#engine = engine;
    this.record = record;
    this.#token = token;
    this.#data = (record ? record.data : {}) as D;
    this.#json = json;
    this.#ip = req.ip;
    this.userAgent = req.userAgent;
  }

  /** Application data. Mutations (also deep ones) are detected at commit. */
  get data(): D {
    if (this.#base === null) this.#base = this.#json ?? JSON.stringify(this.#data);
    return this.#data;
  }
  set data(value: D) {
    if (this.#base === null) this.#base = this.#json ?? JSON.stringify(this.#data);
    this.#data = value;
  }

  /** @internal The raw token (only the engine reads it, to sign the cookie). */
  get token(): string | null {
    return this.#token;
  }
  set token(value: string | null) {
    this.#token = value;
  }

  /** What a log line may show of a session: never the token, the store id or the data. */
  toJSON(): Record<string, unknown> {
    return { userId: this.userId, isNew: this.isNew, authenticated: this.isAuthenticated, expiresAt: this.expiresAt };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Session ${JSON.stringify(this.toJSON())}`;
  }

  /** @internal Client IP, resolved on first use (reading it costs a syscall on Node). */
  get ip(): string | undefined {
    if (!this.#ipResolved) {
      this.#ipResolved = true;
      this.#ip = clip(typeof this.#ip === 'function' ? this.#ip() : this.#ip);
    }
    return this.#ip as string | undefined;
  }

  /**
   * @internal The data as last synchronised with the store, as an object the caller must not
   * mutate (it may be the live data object when the application has not touched it).
   */
  baseData(): Record<string, unknown> {
    if (this.#base === null) return this.#data as Record<string, unknown>;
    return (this.#baseData ??= JSON.parse(this.#base) as Record<string, unknown>);
  }

  /** @internal JSON of the data as last synchronised with the store. */
  get baseJson(): string {
    return this.#base ?? this.#json ?? JSON.stringify(this.#data);
  }

  /**
   * @internal Replace the data with what the store now holds. Without `json` the data counts as
   * untouched until the application reaches it again (`text`: its JSON, for that moment).
   */
  sync(data: Record<string, unknown>, json: string | null = null, text: string | null = null): void {
    this.#data = data as D;
    this.#base = json;
    this.#json = text;
    this.#baseData = null;
  }

  /** @internal Take over the record the store just wrote: as is when the store gave its data's text (lib/data-json.ts), else a copy. */
  syncRecord(record: SessionRecord): void {
    this.record = record;
    const json = takeJson(record.data);
    this.sync(json === null ? (JSON.parse(JSON.stringify(record.data)) as Record<string, unknown>) : record.data, json);
  }

  /** Store id (SHA-256 of the token), or null while the session is not persisted. */
  get id(): string | null {
    return this.record?.id ?? null;
  }
  /** True until the session has been written to the store. */
  get isNew(): boolean {
    return this.record === null;
  }
  get userId(): string | null {
    return this.record?.userId ?? null;
  }
  /**
   * Time of the last (re-)authentication in ms, or null. Reached through a superseded token (the
   * grace window), it is that token's own, never the successor's newer one.
   */
  get authTime(): number | null {
    if (this.superseded) return this.ownAuthTime;
    return this.record?.authTime ?? null;
  }
  get createdAt(): number | null {
    return this.record?.createdAt ?? null;
  }
  get expiresAt(): number | null {
    return this.record?.expiresAt ?? null;
  }
  get absoluteExpiresAt(): number | null {
    return this.record?.absoluteExpiresAt ?? null;
  }
  /** Fully authenticated: logged in and no factor pending (SEC-17). */
  get isAuthenticated(): boolean {
    return this.userId !== null && !this.auth().pending;
  }
  /**
   * SEC-35 risk signals: how this request's network and browser differ from the device the
   * session was issued to (at creation or the last login/rotation). A signal is a reason for
   * step-up or review, never on its own a reason to end the session: IPs change on mobile networks.
   */
  get riskSignals(): Array<'ip_change' | 'ua_change'> {
    const meta = this.record?.meta;
    if (!meta) return [];
    const out: Array<'ip_change' | 'ua_change'> = [];
    if (meta.ip && this.ip && meta.ip !== this.ip) out.push('ip_change');
    if (meta.userAgent && this.userAgent && meta.userAgent !== this.userAgent) out.push('ua_change');
    return out;
  }

  /**
   * What this session is bound to: 'dbsc' when its requests must prove a device key (Device Bound
   * Session Credentials), 'none' otherwise — apps can require step-up for sensitive actions on
   * unbound sessions (docs/device-binding.md).
   */
  get binding(): BindingKind {
    return bindingOf(this.record?.data) ? 'dbsc' : 'none';
  }

  /** The factor still pending (e.g. 'mfa'), or null. */
  get pendingStep(): string | null {
    return this.auth().pending ?? null;
  }

  get<K extends keyof D & string>(key: K): D[K] | undefined {
    // Own keys only: `__proto__` or `constructor` must not read the prototype.
    const d = this.data;
    return Object.prototype.hasOwnProperty.call(d, key) ? d[key] : undefined;
  }

  set<K extends keyof D & string>(key: K, value: D[K]): this {
    this.assertLive();
    if (key === AUTH_KEY) throw new InvalidInputError(`${AUTH_KEY} is reserved`);
    put(this.data as Record<string, unknown>, key, value);
    return this;
  }

  delete<K extends keyof D & string>(key: K): this {
    this.assertLive();
    delete (this.data as Record<string, unknown>)[key];
    return this;
  }

  /**
   * Atomic read-modify-write against the store: `fn` runs on the latest stored data and is
   * re-run if another request won the race (compare-and-set on the record's version). Use it for
   * counters, carts, anything derived from the current value. `fn` must be free of side effects.
   *
   * @example
   * await session.update((d) => { d.views = (d.views ?? 0) + 1 })
   */
  async update(fn: (data: D) => void | D): Promise<void> {
    this.assertLive();
    await this.#engine.atomicUpdate(this, fn as (d: Record<string, unknown>) => void | Record<string, unknown>);
  }

  /**
   * Lifetime of the persistent cookie in ms for this session ("remember me"), or null for a
   * browser-session cookie. Defaults to the manager's `cookie.maxAge`.
   */
  get cookieMaxAge(): number | null {
    const own = this.auth().maxAge;
    if (own !== undefined) return own;
    return this.#engine.options.cookieMaxAge ?? null;
  }

  /**
   * Make this session's cookie persistent for `ms` (capped by the absolute deadline, SEC-8), or a
   * browser-session cookie with null. The cookie is re-issued at commit.
   */
  setCookieMaxAge(ms: number | null): void {
    this.assertLive();
    if (ms !== null && (!Number.isFinite(ms) || ms <= 0 || ms > MAX_COOKIE_AGE_MS)) {
      throw new InvalidInputError('cookie max age must be a positive number of ms, at most 400 days, or null');
    }
    const data = this.data as Record<string, unknown>;
    data[AUTH_KEY] = { ...this.auth(), maxAge: ms };
    this.issueCookie = true;
  }

  /** Discard this request's unsaved changes and read the session again from the store. */
  async reload(): Promise<void> {
    this.assertLive();
    await this.#engine.reloadSession(this);
  }

  /**
   * Record activity now ("stay signed in"): commit renews the idle deadline even when the
   * `touchAfter` throttle would skip it. Never extends the absolute deadline.
   */
  touch(): void {
    this.assertLive();
    this.touchRequested = true;
  }

  /**
   * Log in: a new token and record (the old token stops working after the grace window), `userId`
   * and `authTime` set, idle and absolute timers restarted. Only allow-listed pre-login data
   * survives (SEC-15, SEC-17). `userId` is 1 to 256 characters of well-formed text without control
   * characters (InvalidInputError otherwise, on every store).
   */
  async login(userId: string, options: LoginOptions = {}): Promise<void> {
    this.assertLive();
    assertUserId(userId);
    const data = loginData(this.data as Record<string, unknown>, this.#engine.options.preLoginKeys, options);
    await this.#engine.rotate(this, { userId, data, reauthenticated: true, carriedOverUntil: options.carriedOverUntil });
  }

  /**
   * Complete a pending step (e.g. the second factor): clears it and rotates the token, since the
   * session's privilege changed (SEC-16).
   */
  async completeStep(method?: string): Promise<void> {
    this.assertLive();
    const data = stepData(this.data as Record<string, unknown>, method);
    await this.#engine.rotate(this, { userId: this.userId, data, reauthenticated: true });
  }

  /**
   * Issue a new token for the same session data on a privilege change — role, password, second
   * factor settings (SEC-16). The old token stops reaching the session at once; authentication
   * time and the absolute deadline are kept.
   */
  async rotate(): Promise<void> {
    this.assertLive();
    await this.#engine.rotate(this, { userId: this.userId, data: { ...(this.data as Record<string, unknown>) }, reauthenticated: false });
  }

  /**
   * Periodic renewal (SEC-18): a new token for the same session with nothing else changed. The
   * old token still reaches the session for `rotationGrace`, so requests already in flight are
   * not logged out — read-only for security decisions (no rotate, login, step completion or
   * ending other sessions: SessionSupersededError) and with its own authentication time.
   *
   * A token has at most one successor: if another request rotated this token first (two renewals
   * at once, say), this one throws SessionSupersededError and follows that rotation instead. The
   * same holds for `rotate()`, `login()` and `completeStep()`.
   */
  async renew(): Promise<void> {
    this.assertLive();
    await this.#engine.rotate(this, { userId: this.userId, data: { ...(this.data as Record<string, unknown>) }, reauthenticated: false, renewal: true });
  }

  /** Log out: delete the record now; commit clears the cookie with Max-Age=0 (SEC-36). */
  async destroy(): Promise<void> {
    await this.#engine.destroy(this);
  }

  /** Require a full login (SEC-17); throws UnauthenticatedError (401) otherwise. */
  requireAuth(): string {
    if (!this.isAuthenticated) throw new UnauthenticatedError();
    return this.userId as string;
  }

  /**
   * Step-up gate (SEC-14): throws ReauthRequiredError unless the user authenticated within
   * `maxAgeMs`.
   */
  requireFreshAuth(maxAgeMs: number): void {
    this.requireAuth();
    const t = this.authTime;
    if (t === null || this.#engine.options.clock() - t > maxAgeMs) {
      this.#engine.emit('auth.reauth_required', this, {});
      throw new ReauthRequiredError();
    }
  }

  /** This user's live sessions with device metadata (SEC-39). */
  async listSessions(): Promise<DeviceSession[]> {
    const uid = this.requireAuth();
    return this.#engine.listUserSessions(uid, this.id);
  }

  /**
   * End one of this user's sessions by id ("sign out that device"); false if it is not theirs or
   * gone. As strong as that device's own logout: a renewal or rotation by the device, before or
   * during the call, does not keep it signed in.
   */
  async destroySession(id: string): Promise<boolean> {
    const uid = this.requireAuth();
    if (id === this.id) {
      await this.destroy();
      return true;
    }
    this.assertCurrent();
    return this.#engine.destroyOwnedSession(uid, id);
  }

  /** "Log out my other devices" (SEC-38). Returns how many sessions ended. */
  async destroyOtherSessions(): Promise<number> {
    const uid = this.requireAuth();
    // A superseded token must not end the sessions of the device that holds the current one.
    this.assertCurrent();
    return this.#engine.destroyUserSessions(uid, this.id ?? undefined);
  }

  /** @internal Security decisions need the current token, not one that reached here through a pointer. */
  assertCurrent(): void {
    if (this.superseded) throw new SessionSupersededError();
  }

  /**
   * @internal From now on this request only follows a rotation made by another request: it keeps
   * its own (older) authentication time and loses every security decision.
   */
  markSuperseded(ownAuthTime: number | null): void {
    if (this.superseded) return;
    this.superseded = true;
    this.ownAuthTime = ownAuthTime;
  }

  private auth(): AuthState {
    // Read without taking a data snapshot: auth checks run on most requests and never mutate.
    return authState(this.#data as Record<string, unknown>);
  }

  /** @internal */
  assertLive(): void {
    if (this.destroyed) throw new SessionDestroyedError();
  }

  /**
   * @internal Whether the data differs from the last synchronised state: one serialisation, where
   * `changes()` also works out which keys (an adapter deciding whether to wait for a commit).
   */
  dataChanged(): boolean {
    return this.#base !== null && JSON.stringify(this.#data) !== this.#base;
  }

  /**
   * @internal Keys whose value differs from the last synchronised state, with their new value or
   * DELETED. Empty when nothing changed (the common, read-only case costs one stringify).
   */
  changes(): Changes {
    const base = this.#base;
    if (base === null || JSON.stringify(this.#data) === base) return NO_CHANGES;
    // The parsed base is kept: the write that follows needs it too (baseData).
    return diffKeys(this.baseData(), this.#data as Record<string, unknown>);
  }
}
