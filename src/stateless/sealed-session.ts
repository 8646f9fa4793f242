/**
 * Sealed (stateless) cookie sessions: the whole session lives in an AES-256-GCM sealed cookie.
 * An API familiar to iron-session users, with what iron-session lacks: key ids and rotation
 * (SEC-10), server-enforced idle and absolute expiry inside the seal (SEC-11/13), chunking past
 * 4096 bytes (SEC-7), revocation (SEC-37), events (SEC-40) and a one-time iron-session migration.
 *
 * The framework-free core is {@link SealedSessions}: it reads a Cookie header string and returns
 * a session whose pending Set-Cookie lines the Node and Web helpers apply.
 */
import { ConfigError, SessionDestroyedError } from '../errors.js';
import { parseCookieHeader, validateCookieOptions, type CookieAttributes, type SameSite } from '../cookie/index.js';
import { webCrypto } from '../crypto/web.js';
import { toBase64Url } from '../lib/base64url.js';
import { clearChunked, readChunked, writeChunked } from './chunk.js';
import type { OnStatelessEvent } from './events.js';
import { isIronSeal, openIronSeal } from './iron.js';
import type { OpenFailure, Opened, SealKey, Sealer } from './keys-common.js';
import type { Revocation } from './revocation.js';
import { emit, parseJsonObject } from './util.js';

// WebCrypto, not node:crypto: this module is part of the Web entry point (`sessionward/sealed/web`).
function randomSid(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}


const OPEN_CACHE_ENTRIES = 5_000;
/** iron seals made with `ttl: 0` never expire; their replay denial lasts the longest a cookie can. */
const IRON_NO_EXPIRY_DENY_MS = 400 * 24 * 3600_000;
const OPEN_CACHE_MAX_SEAL = 4_096;
export interface SealedSessionOptions {
  /** Newest first: the first key seals, every key opens; old-key cookies are re-sealed. */
  keys: SealKey[];
  /** Default `__Host-session` (or `session` with `insecureDevelopmentCookies`). */
  cookieName?: string;
  cookie?: {
    sameSite?: SameSite;
    /** Only for names without the `__Host-` prefix. */
    domain?: string;
    path?: string;
    /** Persistent cookie lifetime in seconds (capped by the absolute timeout). Default: none (SEC-8). */
    maxAge?: number;
    partitioned?: boolean;
  };
  /** Named opt-in for plain http on localhost: drops Secure and the `__Host-` prefix (SEC-18). */
  insecureDevelopmentCookies?: boolean;
  /** ms without activity after which the seal is refused. Default 30 min. */
  idleTimeout?: number;
  /** ms after creation (or login) after which the seal is refused. Default 8 h. */
  absoluteTimeout?: number;
  /** Re-seal on a read once the last seal is older than this, to move the idle deadline. Default 60 s. */
  touchAfter?: number;
  /** Chunks allowed for one session (each <= 4096 bytes with attributes). Default 3 (~12 KB). */
  maxChunks?: number;
  /** SEC-37: checked on every load; `destroy()` denylists the session until its absolute expiry. */
  revocation?: Revocation;
  /** One-time migration from iron-session: its password(s) and cookie name. */
  iron?: { password: string | Record<string, string>; cookieName?: string; path?: string; domain?: string };
  onEvent?: OnStatelessEvent;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
}

/** Session metadata, kept in the seal beside the data. */
export interface SealedSessionInfo {
  /** Random id: the revocation handle. Not secret, not a bearer credential. */
  sid: string;
  userId: string | null;
  createdAt: number;
  lastSeenAt: number;
  absoluteExpiresAt: number;
  /** True when the session came from an existing, valid cookie. */
  fromCookie: boolean;
}

export interface SealedSessionApi {
  /** Seal the current data into Set-Cookie lines (and, on Node, onto the response). */
  save(): Promise<void>;
  /** Clear the data and the cookie(s); with revocation configured, the old seal is denylisted too. */
  destroy(): Promise<void>;
  /** Bind to a user and start a new session (new sid, new absolute deadline, SEC-11/15). Call save() after. */
  login(userId: string): void;
  /** Metadata (read-only snapshot). */
  readonly info: Readonly<SealedSessionInfo>;
  /** Set-Cookie lines to send; also includes automatic re-seals (key rotation, migration, idle). */
  readonly setCookieHeaders: readonly string[];
  /** Append the pending Set-Cookie lines and `Cache-Control: no-store` to a Web Response. */
  applyTo<R extends { headers: Headers }>(response: R): R;
}

export type SealedSession<T extends object = Record<string, unknown>> = Partial<T> & SealedSessionApi;

/** Receives the complete, current list of Set-Cookie lines each time it changes (replacing the previous list). */
export type HeaderSink = (lines: readonly string[]) => void;

// API names and `__proto__` (which would swap the object's prototype) never become data fields.
const RESERVED = new Set(['save', 'destroy', 'login', 'info', 'setCookieHeaders', 'applyTo', '__proto__']);

interface Envelope {
  v: 1;
  sid: string;
  uid: string | null;
  iat: number;
  seen: number;
  exp: number;
  d: Record<string, unknown>;
}

function isEnvelope(o: Record<string, unknown> | null): o is Record<string, unknown> & Envelope {
  return (
    !!o && o.v === 1 && typeof o.sid === 'string' && o.sid.length >= 16 && o.sid.length <= 64 &&
    (o.uid === null || typeof o.uid === 'string') &&
    Number.isSafeInteger(o.iat) && Number.isSafeInteger(o.seen) && Number.isSafeInteger(o.exp) &&
    !!o.d && typeof o.d === 'object' && !Array.isArray(o.d)
  );
}

function positiveInt(v: unknown, name: string, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || (x as number) <= 0) throw new ConfigError(`${name} must be a positive integer (ms)`);
  return x as number;
}

interface ResolvedSealedOptions {
  cookieName: string;
  attrs: CookieAttributes;
  idle: number;
  absolute: number;
  touchAfter: number;
  maxChunks: number;
  ironAttrs: CookieAttributes | null;
}

/**
 * Check every option except the keys (the sealers check those) and resolve the defaults. Runs
 * synchronously, so a factory can fail where the app builds its sessions, not on a request.
 *
 * @example
 * resolveSealedOptions({ keys, idleTimeout: 9 * 3600_000 }) // ConfigError: idleTimeout cannot exceed absoluteTimeout
 */
export function resolveSealedOptions(o: SealedSessionOptions): ResolvedSealedOptions {
  if (!o || typeof o !== 'object') throw new ConfigError('sealed sessions need an options object with `keys`');
  const dev = o.insecureDevelopmentCookies === true;
  const cookieName = o.cookieName ?? (dev ? 'session' : '__Host-session');
  const attrs: CookieAttributes = {
    secure: !dev,
    httpOnly: true,
    sameSite: o.cookie?.sameSite ?? 'Lax',
    path: o.cookie?.path ?? '/',
    ...(o.cookie?.domain ? { domain: o.cookie.domain } : {}),
    ...(o.cookie?.partitioned ? { partitioned: true } : {}),
  };
  if (dev && cookieName.toLowerCase().startsWith('__host-')) {
    throw new ConfigError('insecureDevelopmentCookies cannot use a __Host- cookie name');
  }
  validateCookieOptions(cookieName, { ...attrs, maxAge: o.cookie?.maxAge });
  const idle = positiveInt(o.idleTimeout, 'idleTimeout', 30 * 60_000);
  const absolute = positiveInt(o.absoluteTimeout, 'absoluteTimeout', 8 * 3600_000);
  if (idle > absolute) throw new ConfigError('idleTimeout cannot exceed absoluteTimeout');
  const touchAfter = o.touchAfter ?? 60_000;
  if (!Number.isSafeInteger(touchAfter) || touchAfter < 0) throw new ConfigError('touchAfter must be a non-negative integer (ms)');
  const maxChunks = o.maxChunks ?? 3;
  if (!Number.isInteger(maxChunks) || maxChunks < 1 || maxChunks > 20) throw new ConfigError('maxChunks must be 1..20');
  let ironAttrs: CookieAttributes | null = null;
  if (o.iron) {
    const p = o.iron.password;
    const list = typeof p === 'string' ? [p] : p && typeof p === 'object' ? Object.values(p) : [];
    if (list.length === 0 || list.some((x) => typeof x !== 'string' || x.length < 32)) {
      throw new ConfigError('iron.password must be the iron-session password(s), each at least 32 characters');
    }
    ironAttrs = { path: o.iron.path ?? '/', ...(o.iron.domain ? { domain: o.iron.domain } : {}), secure: !dev, httpOnly: true, sameSite: 'Lax' };
  }
  return { cookieName, attrs, idle, absolute, touchAfter, maxChunks, ironAttrs };
}

/**
 * The framework-free core. Build once at start-up.
 *
 * @example
 * const sealed = new SealedSessions<{ user?: string }>(new NodeSealer(keys), { keys })
 * const session = await sealed.load(req.headers.cookie)
 * session.user = 'ada'; await session.save()
 * for (const line of session.setCookieHeaders) res.appendHeader('Set-Cookie', line)
 */
export class SealedSessions<T extends object = Record<string, unknown>> {
  readonly cookieName: string;
  readonly attrs: CookieAttributes;
  readonly #sealer: Sealer;
  readonly #o: SealedSessionOptions;
  readonly #idle: number;
  readonly #absolute: number;
  readonly #touchAfter: number;
  readonly #maxChunks: number;
  readonly #now: () => number;
  readonly #ironAttrs: CookieAttributes | null;

  readonly #openSync: ((name: string, sealed: string) => Opened | OpenFailure) | undefined;
  /** Seal text -> opened payload, FIFO-bounded: AES-GCM setup per request dominated the read path. */
  readonly #opened = new Map<string, Opened>();

  constructor(sealer: Sealer, o: SealedSessionOptions) {
    this.#sealer = sealer;
    const maybeSync = (sealer as Partial<{ openSync: (n: string, s: string) => Opened | OpenFailure }>).openSync;
    this.#openSync = typeof maybeSync === 'function' ? maybeSync.bind(sealer) : undefined;
    this.#o = o;
    const r = resolveSealedOptions(o);
    this.cookieName = r.cookieName;
    this.attrs = r.attrs;
    this.#idle = r.idle;
    this.#absolute = r.absolute;
    this.#touchAfter = r.touchAfter;
    this.#maxChunks = r.maxChunks;
    this.#ironAttrs = r.ironAttrs;
    this.#now = o.now ?? Date.now;
    this.#chunkPrefix = `${this.cookieName}.`;
    this.#ironOtherName = !!(this.#ironAttrs && o.iron && (o.iron.cookieName ?? this.cookieName) !== this.cookieName);
  }

  readonly #chunkPrefix: string;
  readonly #ironOtherName: boolean;

  /** Load the session from a Cookie header. Bad, expired or revoked cookies give an empty session; never throws for client input. */
  async load(cookieHeader: string | null | undefined, sink?: HeaderSink): Promise<SealedSession<T>> {
    const name = this.cookieName;
    // Most requests carry our cookie unchunked: look it up without splitting the whole header. A
    // chunk (`name.N`) can only be there if `name.` occurs in the header, and the iron migration
    // may read a cookie of another name: both take the full parse.
    const cookies =
      typeof cookieHeader === 'string' && !cookieHeader.includes(this.#chunkPrefix) && !this.#ironOtherName
        ? parseCookieHeader(cookieHeader, name)
        : parseCookieHeader(cookieHeader);
    const read = readChunked(cookies, name, this.#maxChunks);
    const now = this.#now();
    let env: Envelope | null = null;
    let reseal = false;
    let dirtyHeaders: string[] = [];
    let keep: string[] = [];
    if (read.tooLarge) emit(this.#o.onEvent, { type: 'sealed.invalid', cookie: name, reason: 'too-large' });
    if (read.value !== null) {
      // The node sealer opens synchronously: skip a promise on the hot path.
      let opened: Opened | OpenFailure | undefined = this.#opened.get(read.value);
      if (opened === undefined) {
        opened = this.#openSync ? this.#openSync(name, read.value) : await this.#sealer.open(name, read.value);
        // Opening is deterministic: remember successful opens of small seals (a forged value can
        // never enter, and the bound keeps memory small). Expiry and revocation are still checked below.
        if (typeof opened !== 'string' && read.value.length <= OPEN_CACHE_MAX_SEAL) {
          if (this.#opened.size >= OPEN_CACHE_ENTRIES) this.#opened.delete(this.#opened.keys().next().value as string);
          this.#opened.set(read.value, opened);
        }
      }
      if (typeof opened === 'string') {
        emit(this.#o.onEvent, { type: 'sealed.invalid', cookie: name, reason: opened });
      } else {
        const obj = parseJsonObject(opened.payload);
        if (!isEnvelope(obj)) emit(this.#o.onEvent, { type: 'sealed.invalid', cookie: name, reason: 'malformed' });
        else if (now >= obj.exp || now >= obj.iat + this.#absolute) emit(this.#o.onEvent, { type: 'sealed.expired', cookie: name, kind: 'absolute' });
        else if (now >= obj.seen + this.#idle) emit(this.#o.onEvent, { type: 'sealed.expired', cookie: name, kind: 'idle' });
        else if (this.#o.revocation && (await this.#o.revocation.isRevoked({ id: obj.sid, userId: obj.uid, issuedAt: obj.iat }))) {
          emit(this.#o.onEvent, { type: 'sealed.revoked', cookie: name, sidHash: await webCrypto.sha256(obj.sid) });
        } else {
          env = obj;
          if (opened.stale) {
            reseal = true;
            emit(this.#o.onEvent, { type: 'sealed.rekeyed', cookie: name, fromKid: opened.kid, toKid: this.#sealer.currentKid });
          } else if (now - obj.seen >= this.#touchAfter) reseal = true;
        }
      }
      // A cookie we refused is cleared, so the client stops sending it.
      if (!env) dirtyHeaders = clearChunked(name, this.attrs, read.present);
    }
    if (!env && this.#ironAttrs && this.#o.iron) {
      const ironName = this.#o.iron.cookieName ?? name;
      const v = cookies[ironName];
      if (v !== undefined && isIronSeal(v)) {
        const opened = await openIronSeal(v, { password: this.#o.iron.password, now });
        // With revocation configured the migration is one-time: the first request to present a
        // seal claims it (atomically, so concurrent copies lose), and the claim lasts as long as
        // iron would still open the seal (expiry + skew). Keyed by the seal's MAC, so no other
        // spelling or suffix of the same seal counts as new.
        const replayed = opened && this.#o.revocation
          ? !(await this.#o.revocation.consumeOnce(`iron:${opened.mac}`, opened.deadUntil ?? now + IRON_NO_EXPIRY_DENY_MS))
          : false;
        if (opened && !replayed) {
          env = this.#fresh(now, opened.data);
          reseal = true;
          emit(this.#o.onEvent, { type: 'sealed.migrated', cookie: name, from: 'iron' });
          dirtyHeaders = [];
          if (ironName !== name) keep = clearChunked(ironName, this.#ironAttrs, []);
        } else if (opened) {
          emit(this.#o.onEvent, { type: 'sealed.revoked', cookie: ironName, sidHash: await webCrypto.sha256(opened.mac) });
        } else emit(this.#o.onEvent, { type: 'sealed.invalid', cookie: ironName, reason: 'bad-seal' });
      }
    }
    const fromCookie = env !== null;
    const session = this.#makeSession(env ?? this.#fresh(now, {}), fromCookie, read.present, dirtyHeaders, keep, sink);
    // Old key, migrated iron cookie, or idle deadline to move: re-seal now (SEC-10, SEC-11).
    if (reseal) await session.save();
    return session;
  }

  #fresh(now: number, data: Record<string, unknown>): Envelope {
    return { v: 1, sid: randomSid(), uid: null, iat: now, seen: now, exp: now + this.#absolute, d: data };
  }

  async #sealLines(env: Envelope, present: readonly string[]): Promise<string[]> {
    const now = this.#now();
    env.seen = now;
    const sealed = await this.#sealer.seal(this.cookieName, JSON.stringify(env));
    const attrs: CookieAttributes = { ...this.attrs };
    if (this.#o.cookie?.maxAge !== undefined) {
      // SEC-8: a persistent cookie never outlives the session's absolute deadline.
      attrs.maxAge = Math.max(0, Math.min(this.#o.cookie.maxAge, Math.floor((env.exp - now) / 1000)));
    }
    return writeChunked(this.cookieName, sealed, attrs, this.#maxChunks, present);
  }

  #makeSession(env: Envelope, fromCookie: boolean, present: string[], initial: string[], keep: string[], sink: HeaderSink | undefined): SealedSession<T> {
    if (sink && initial.length > 0) sink(initial);
    const session = new SessionObject(this.#ops, env, fromCookie, present, initial, keep, sink);
    for (const k in env.d) if (!RESERVED.has(k)) (session as unknown as Record<string, unknown>)[k] = env.d[k];
    return session as unknown as SealedSession<T>;
  }

  // One set of closures per SealedSessions, shared by every session object (no per-request closures).
  readonly #ops: SessionOps = {
    sealLines: (env, present) => this.#sealLines(env, present),
    clearLines: (present) => clearChunked(this.cookieName, this.attrs, present),
    revoke: (seal) => this.#o.revocation?.revokeSession(seal.sid, seal.exp, seal.uid),
    now: () => this.#now(),
    absolute: () => this.#absolute,
  };
}

/** What revocation needs of one seal: its id, owner (the record it is checked against) and deadline. */
type SealIdentity = Pick<Envelope, 'sid' | 'uid' | 'exp'>;

interface SessionOps {
  sealLines(env: Envelope, present: readonly string[]): Promise<string[]>;
  clearLines(present: readonly string[]): string[];
  revoke(seal: SealIdentity): Promise<void> | undefined;
  now(): number;
  absolute(): number;
}

/**
 * The session object: data fields are its own enumerable properties (iron-session style); the
 * API lives on the prototype and the state in private fields, so neither is ever serialised.
 */
class SessionObject implements SealedSessionApi {
  readonly #ops: SessionOps;
  readonly #env: Envelope;
  readonly #fromCookie: boolean;
  /** The seal this request presented, as it was: login() replaces sid/uid/exp in #env. */
  readonly #presented: SealIdentity | null;
  /** Set once save() has sealed the current envelope (it may have reached the client). */
  #sealed = false;
  readonly #present: string[];
  readonly #keep: string[];
  readonly #sink: HeaderSink | undefined;
  #headers: string[];
  #destroyed = false;

  constructor(ops: SessionOps, env: Envelope, fromCookie: boolean, present: string[], initial: string[], keep: string[], sink: HeaderSink | undefined) {
    this.#ops = ops;
    this.#env = env;
    this.#fromCookie = fromCookie;
    this.#presented = fromCookie ? { sid: env.sid, uid: env.uid, exp: env.exp } : null;
    this.#present = present;
    this.#headers = initial;
    this.#keep = keep;
    this.#sink = sink;
  }

  #collect(): Record<string, unknown> {
    const d: Record<string, unknown> = {};
    const self = this as unknown as Record<string, unknown>;
    for (const k of Object.keys(self)) if (self[k] !== undefined) d[k] = self[k];
    return d;
  }

  async save(): Promise<void> {
    if (this.#destroyed) throw new SessionDestroyedError();
    this.#env.d = this.#collect();
    const lines = await this.#ops.sealLines(this.#env, this.#present);
    this.#sealed = true;
    this.#headers = this.#keep.length > 0 ? [...this.#keep, ...lines] : lines;
    this.#sink?.(this.#headers);
  }

  async destroy(): Promise<void> {
    const self = this as unknown as Record<string, unknown>;
    for (const k of Object.keys(self)) delete self[k];
    // Deny the seal the request came with AND any seal this request minted: after login() they
    // differ, and leaving the presented one alive would let a copy of the pre-login cookie
    // outlive the logout (SEC-36/37).
    const p = this.#presented;
    if (p) await this.#ops.revoke(p);
    if (this.#sealed && (!p || p.sid !== this.#env.sid)) await this.#ops.revoke(this.#env);
    this.#destroyed = true;
    this.#headers = [...this.#keep, ...this.#ops.clearLines(this.#present)];
    this.#sink?.(this.#headers);
  }

  login(userId: string): void {
    if (typeof userId !== 'string' || userId === '') throw new TypeError('userId must be a non-empty string');
    const now = this.#ops.now();
    this.#env.sid = randomSid();
    this.#env.uid = userId;
    this.#env.iat = now;
    this.#env.exp = now + this.#ops.absolute();
  }

  get info(): Readonly<SealedSessionInfo> {
    const e = this.#env;
    return { sid: e.sid, userId: e.uid, createdAt: e.iat, lastSeenAt: e.seen, absoluteExpiresAt: e.exp, fromCookie: this.#fromCookie };
  }

  get setCookieHeaders(): readonly string[] {
    return this.#headers.slice();
  }

  applyTo<R extends { headers: Headers }>(response: R): R {
    for (const h of this.#headers) response.headers.append('Set-Cookie', h);
    if (this.#headers.length > 0) response.headers.set('Cache-Control', 'no-store');
    return response;
  }
}
