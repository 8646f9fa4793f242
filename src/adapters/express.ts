/**
 * Express adapter: a drop-in for express-session (`sessionward/express`). `req.session` behaves
 * like express-session's (plain data properties, `regenerate`, `destroy`, `reload`, `save`,
 * `touch`, `id`, `cookie`); every decision is the core's (SessionManager). The adapter only
 * translates: data properties are synced into the core session, and the core's async commit runs
 * before the first byte of the response goes out.
 *
 * Differences from express-session are listed in docs/migrating-from-express-session.md.
 *
 * @example
 * import express from 'express'
 * import { session } from 'sessionward/express'
 * const app = express()
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new RedisStore({ client }) }))
 * app.get('/', (req, res) => {
 *   req.session.views = (req.session.views ?? 0) + 1
 *   res.json({ views: req.session.views })
 * })
 */
import { OutgoingMessage, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RequestInfo } from '../core/manager.js';
import { SessionManager } from '../node-manager.js';
import { AUTH_KEY, type Session } from '../core/session.js';
import type { CookieOptions, SessionManagerOptions } from '../core/options.js';
import type { SessionStore } from '../stores/types.js';
import { MemoryStore } from '../stores/memory.js';
import { ConfigError, InvalidInputError, isSessionwardError } from '../errors.js';
import { parseCookieHeader } from '../cookie/index.js';
import { forgetSessionHeaders, setSessionHeaders, writeHeadKeeping } from './node.js';
import { createLegacy, type Legacy, type LegacyOptions } from './express-legacy.js';
import { answerEndpoint } from './node.js';
import { checkCsrf, compileGuard, emitCsrfEvent, getCsrfToken, mergeVary, tokenSources, type CsrfGuardOptions } from '../csrf/index.js';

export type { LegacyOptions, LegacyStore, LegacyRedis } from './express-legacy.js';
// Type-only: loads the Express Request augmentation (req.session, req.sessionID) into the program.
export type { SessionData } from './express-request.js';
export { unsignLegacy } from './express-legacy.js';

type Req = IncomingMessage & {
  session?: any; sessionID?: string; ip?: string; body?: any; csrfToken?: () => string;
  /** cookie-parser's results, when it runs before us. */
  cookies?: unknown; signedCookies?: unknown;
};
type Res = ServerResponse;
type Next = (err?: unknown) => void;

/** express-session's `cookie` option, as far as it maps onto secure defaults. */
export interface ExpressCookieOptions {
  /** Persistent cookie lifetime in ms (browser-session cookie when absent, SEC-8). */
  maxAge?: number;
  /** `true`/`'auto'`/absent: Secure. `false` is refused: use `insecureDevelopmentCookies`. */
  secure?: boolean | 'auto';
  /** Always HttpOnly; `false` is refused. */
  httpOnly?: boolean;
  /**
   * `true` = Strict; `'lax'` (default), `'strict'`, `'none'` (needs Secure). `'auto'` (express-session
   * 1.19): None when the cookie is Secure, Lax with `insecureDevelopmentCookies` — express-session
   * decides per connection, but our cookie's Secure flag never depends on the connection. `false` is
   * refused (SEC-5).
   */
  sameSite?: boolean | 'auto' | 'lax' | 'strict' | 'none' | 'Lax' | 'Strict' | 'None';
  /** Only without the `__Host-` name prefix. */
  domain?: string;
  path?: string;
  /** Partitioned (CHIPS): needs Secure and SameSite=None, refused otherwise (SEC-9). */
  partitioned?: boolean;
  /** `'low'`, `'medium'` or `'high'` (any case), as in express-session. */
  priority?: 'low' | 'medium' | 'high' | 'Low' | 'Medium' | 'High';
  /** Named opt-in for plain-HTTP local development (drops Secure and the `__Host-` prefix). */
  insecureDevelopmentCookies?: boolean;
  /** Refused: use `maxAge` (expiry is server-side anyway, SEC-13). */
  expires?: Date;
}

/** Options: express-session's names where they make sense, plus the core's own. */
export interface ExpressSessionOptions<D extends Record<string, unknown> = Record<string, unknown>>
  extends Omit<SessionManagerOptions, 'store' | 'secrets' | 'cookie'> {
  /**
   * Cookie MAC key(s), newest first, each >= 32 bytes (express-session allowed any length).
   * Required, as in express-session (which fails every request without it; we refuse at start-up).
   */
  secret?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** A sessionward store (not an express-session store: see `legacy`). Default: MemoryStore. */
  store?: SessionStore;
  /** Cookie name. Default `__Host-sid` (express-session: `connect.sid`). */
  name?: string;
  /** express-session's deprecated alias of `name` (`name` wins when both are set). */
  key?: string;
  cookie?: ExpressCookieOptions;
  /**
   * `true`: the cookie is re-sent on every response (its Max-Age restarts). Default false: a
   * persistent cookie is re-sent whenever the session changes or activity is recorded.
   */
  rolling?: boolean;
  /**
   * `true`: every request renews the session's idle deadline in the store, changed or not (a
   * touch: data is never rewritten, so this cannot lose a concurrent update as express-session's
   * full re-save can). Default false: renewed at most once per `touchAfter`, and on every change.
   */
  resave?: boolean;
  /**
   * `true`: a new session is stored and gets its cookie even when nothing was put in it (what
   * express-session does by default). Default false: an untouched new session costs no write.
   */
  saveUninitialized?: boolean;
  /** What `req.session = null` means: 'keep' (default, changes dropped) or 'destroy'. */
  unset?: 'keep' | 'destroy';
  /** Accepted and ignored: the client IP comes from `req.ip`, which honours Express' `trust proxy`. */
  proxy?: boolean;
  /** Refused: tokens always come from the CSPRNG (SEC-1). */
  genid?: (req: any) => string;
  /** Use an existing manager instead of building one (then omit secret/store/name/cookie). */
  manager?: SessionManager<D>;
  /**
   * Which user a session belongs to, read from the session data at commit. When it changes the
   * token is rotated through `session.login()` (SEC-15). Default: Passport's `passport.user`
   * when it is a string or number.
   */
  userId?: (data: Record<string, any>) => string | number | null | undefined;
  /** Migrate express-session cookies and sessions on first contact (see express-legacy.ts). */
  legacy?: LegacyOptions;
  /** Called with every error turned into an error response (log it; the client sees a code only). */
  onError?: (err: unknown, req: IncomingMessage) => void;
}

/** The methods and metadata of `req.session`; data keys sit beside them as plain properties. */
export interface ExpressSessionMethods {
  /**
   * Store id of the session (a hash of the token); '' until the session is first saved, and while
   * a login or logout is pending in this request (its new id is known after `save()`).
   */
  readonly id: string;
  /** Description of the session cookie (read-only: configure cookies on the middleware). */
  readonly cookie: Readonly<{ path: string; httpOnly: true; secure: boolean; sameSite: string; domain?: string; maxAge: number | null; originalMaxAge: number | null; expires: Date | null }>;
  regenerate(cb: (err?: unknown) => void): this;
  destroy(cb?: (err?: unknown) => void): this;
  reload(cb: (err?: unknown) => void): this;
  save(cb?: (err?: unknown) => void): this;
  touch(): this;
  resetMaxAge(): this;
  /**
   * Atomic read-modify-write (the core's `update`): `fn` runs on the latest stored data and is
   * re-run if another request won the race. Use it for counters.
   */
  $update(fn: (data: Record<string, any>) => void): Promise<void>;
}

/** `req.session` under sessionward. */
export type ExpressSession<D extends Record<string, unknown> = Record<string, any>> = ExpressSessionMethods & Partial<D> & Record<string, any>;

const STATE = Symbol.for('sessionward.express.state');

interface State<D extends Record<string, unknown>> {
  manager: SessionManager<D>;
  core: Session<D>;
  view: View | null;
  info: RequestInfo;
  regenerated: boolean;
  /** User id the view's data named when last reconciled; a change means login or logout. */
  lastUid: string | null;
  /** Destroyed sessions whose clearing headers must still go out. */
  retired: Session<D>[];
  legacyId: string | null;
  legacyClear: boolean;
  /** A claimed legacy session's deadline, until its user is logged in (then undefined). */
  legacyUntil?: number;
  /** This request holds the claim on `legacyId`: given back if the migration cannot be committed. */
  legacyClaimed?: boolean;
  legacy: Legacy | null;
  userIdOf: (d: Record<string, any>) => string | null;
  res: Res;
  req?: Req;
  unsetDestroy?: boolean;
  /** Tail of the serialised commits of this request. */
  chain?: Promise<unknown>;
  /** `cookie.maxAge = 0` or a past `cookie.expires`: the session ends at commit. */
  expireNow?: boolean;
  flags: Flags;
}

/** express-session's saving options, as the adapter applies them at commit. */
interface Flags {
  rolling: boolean;
  resave: boolean;
  saveUninitialized: boolean;
}

const METHOD_NAMES = new Set(['id', 'cookie', 'regenerate', 'destroy', 'reload', 'save', 'touch', 'resetMaxAge', '$update']);

function internal(k: string): boolean {
  return k.startsWith('__sw') || k === '__proto__' || METHOD_NAMES.has(k);
}

function cb(fn: ((err?: unknown) => void) | undefined, p: Promise<void>): void {
  p.then(() => fn?.(), (err) => (fn ? fn(err) : undefined));
}

/** `req.session.cookie`: express-session's Cookie as data, with maxAge/expires writable per session. */
function cookieView(st: State<any>): ExpressSessionMethods['cookie'] {
  const o = st.manager.options;
  const maxAge = st.core.cookieMaxAge;
  const expires = maxAge === null ? null : new Date(o.clock() + maxAge);
  const c = {
    path: o.cookieAttrs.path,
    httpOnly: true as const,
    secure: o.cookieAttrs.secure,
    sameSite: o.cookieAttrs.sameSite,
    ...(o.cookieAttrs.domain ? { domain: o.cookieAttrs.domain } : {}),
    ...(o.cookieAttrs.partitioned ? { partitioned: true } : {}),
    ...(o.cookieAttrs.priority ? { priority: o.cookieAttrs.priority } : {}),
    originalMaxAge: maxAge,
    maxAge,
    expires,
  };
  // JSON.stringify(req.session) shows the cookie as express-session's does (no live maxAge).
  Object.defineProperty(c, 'toJSON', { value: () => ({ ...c, maxAge: undefined, expires: expires?.toISOString() ?? null }) });
  /** A new lifetime in ms (null: browser-session cookie); 0 or less ends the session at commit. */
  const lifetime = (ms: number | null): void => {
    if (ms !== null && !(ms > 0)) {
      st.expireNow = true;
      return;
    }
    // Re-assigning the same lifetime on every request (a common "remember me" idiom) changes
    // nothing, so it must not rewrite the session or re-send the cookie; for `expires`, computed
    // from the clock, a second is "the same".
    const cur = st.core.cookieMaxAge;
    if (ms === cur || (ms !== null && cur !== null && Math.abs(ms - cur) < 1000)) return;
    st.core.setCookieMaxAge(ms);
  };
  // Not frozen: a Proxy may not report a successful set on a frozen target's property.
  return new Proxy(c, {
    set(_t, prop, value) {
      // "Remember me": express-session apps set cookie.maxAge (or expires) per session.
      if (prop === 'maxAge' || prop === 'originalMaxAge') {
        if (value === null || value === undefined || value === false) lifetime(null);
        // As express-session's Cookie: a lifetime is a number of ms; anything else is a bug to
        // report, not a reason to end (NaN) or keep the session silently.
        else if (typeof value === 'number' && !Number.isNaN(value)) lifetime(value);
        else throw new InvalidInputError(`req.session.cookie.${prop} must be a number of milliseconds or null`);
        return true;
      }
      if (prop === 'expires') {
        if (value === null || value === undefined || value === false) lifetime(null);
        else if (value instanceof Date && !Number.isNaN(value.getTime())) lifetime(value.getTime() - o.clock());
        else throw new InvalidInputError('req.session.cookie.expires must be a Date or null');
        return true;
      }
      // Security attributes are the middleware's, not a request's: a silent no-op would hide it.
      throw new InvalidInputError(`req.session.cookie.${String(prop)} is set on the session middleware, not per request`);
    },
  });
}

class View {
  readonly #st: State<any>;
  constructor(st: State<any>) {
    this.#st = st;
    // An own, enumerable property as in express-session: Object.keys and JSON show it.
    Object.defineProperty(this, 'cookie', { get: () => cookieView(st), enumerable: true, configurable: false });
  }
  get id(): string {
    const st = this.#st;
    // A login or logout still pending in this request issues a new token at commit: the current
    // id is about to die, and the new one does not exist yet (read it in save()'s callback).
    if (st.regenerated || (st.view === this && st.userIdOf(this as unknown as Record<string, any>) !== st.lastUid)) return '';
    return st.core.id ?? '';
  }
  declare readonly cookie: ExpressSessionMethods['cookie'];
  regenerate(fn: (err?: unknown) => void): this {
    const st = this.#st;
    const req = this.#req();
    st.regenerated = true;
    st.view = new View(st);
    req.session = st.view;
    // The new token now, so req.session.id / req.sessionID name it at once, as in express-session
    // (issue 20 finding 6). Serialised with the commits of this request.
    const work = (): Promise<void> => regenerateNow(st).then(() => {
      req.sessionID = st.core.destroyed ? undefined : (st.core.id ?? undefined);
    });
    const run = st.chain ? st.chain.then(work, work) : work();
    st.chain = run;
    cb(fn, run);
    return this;
  }
  destroy(fn?: (err?: unknown) => void): this {
    const st = this.#st;
    cb(fn, (async () => {
      st.view = null;
      delete this.#req().session;
      await st.core.destroy();
    })());
    return this;
  }
  reload(fn: (err?: unknown) => void): this {
    const st = this.#st;
    cb(fn, (async () => {
      if (st.core.isNew) throw new Error('failed to load session');
      await st.core.reload();
      for (const k of Object.keys(this)) if (!internal(k)) delete (this as any)[k];
      hydrate(this, st.core.data);
    })());
    return this;
  }
  save(fn?: (err?: unknown) => void): this {
    const st = this.#st;
    cb(fn, (async () => {
      const headers = await finalize(st, this.#req());
      applyHeaders(st.res, headers);
    })());
    return this;
  }
  touch(): this {
    // As in express-session: renew the idle deadline at the end of this request.
    if (!this.#st.core.destroyed) this.#st.core.touch();
    return this;
  }
  resetMaxAge(): this {
    return this;
  }
  async $update(fn: (data: Record<string, any>) => void): Promise<void> {
    const st = this.#st;
    await reconcile(st);
    await st.core.update(fn as any);
    for (const k of Object.keys(this)) if (!internal(k)) delete (this as any)[k];
    hydrate(this, st.core.data);
  }
  #req(): Req {
    return this.#st.req as Req;
  }
}

function hydrate(view: View, data: Record<string, unknown>): void {
  for (const k of Object.keys(data)) if (!internal(k)) (view as any)[k] = data[k];
}

/** Write the view's properties into the core session's data in place (key order kept, cheap diff). */
function syncInto(view: View, core: Session<any>): void {
  const d = core.data as Record<string, unknown>;
  const v = view as unknown as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!k.startsWith('__sw') && !Object.prototype.hasOwnProperty.call(v, k)) delete d[k];
  for (const k of Object.keys(v)) if (!internal(k) && d[k] !== v[k]) d[k] = v[k];
}

/** Apply regenerate/login/logout semantics, then sync the view's data into the core session. */
async function reconcile<D extends Record<string, unknown>>(st: State<D>): Promise<void> {
  const view = st.view;
  if (!view || st.core.destroyed) return;
  const data = view as unknown as Record<string, any>;
  const uid = st.userIdOf(data);
  if (st.regenerated || uid !== st.lastUid) {
    // regenerate() by the user already signed in proves no credential: a new token, but the
    // authentication time and absolute deadline stay (issue 9 finding 3). Only a change of user
    // is a login; for a real step-up call coreSession(req).login() after checking the password.
    const sameUser = uid !== null && uid === st.lastUid && st.core.userId === uid;
    st.regenerated = false;
    st.lastUid = uid;
    if (sameUser) {
      const d = st.core.data as Record<string, unknown>;
      for (const k of Object.keys(d)) if (k !== AUTH_KEY) delete d[k];
      syncInto(view, st.core);
      await st.core.rotate();
    } else if (uid !== null) {
      // Login (or a different user): a new token, timers restarted, only the view's data kept (SEC-15).
      const keep = Object.keys(data).filter((k) => !internal(k));
      const d = st.core.data as Record<string, unknown>;
      for (const k of Object.keys(d)) if (k !== AUTH_KEY) delete d[k];
      syncInto(view, st.core);
      // A migrated sign-in proves nothing now: no auth time, the old deadline (issue 20 finding 5).
      const carried = st.legacyUntil;
      st.legacyUntil = undefined;
      await st.core.login(uid, carried === undefined ? { keep } : { keep, carriedOverUntil: carried });
    } else if (st.core.record) {
      // Regenerate without a user, or logout: the old record goes, a fresh session takes its place.
      await st.core.destroy();
      st.retired.push(st.core);
      // Without the old cookie: it names the session just ended (no spurious unknown-token event).
      st.core = await st.manager.load({ ...st.info, cookie: undefined });
    } else {
      const d = st.core.data as Record<string, unknown>;
      for (const k of Object.keys(d)) delete d[k];
    }
  }
  syncInto(view, st.core);
}

/**
 * What `regenerate()` means, done at once when no user change is pending (the view is empty, so
 * the commit would decide the same): the same user gets a new token with its authentication time
 * and absolute deadline kept (issue 9 finding 3); an anonymous session is ended and a fresh one
 * takes its place. A user named or removed afterwards still logs in or out at commit.
 */
async function regenerateNow<D extends Record<string, unknown>>(st: State<D>): Promise<void> {
  const core = st.core;
  if (!st.regenerated || core.destroyed || core.userId !== st.lastUid) return;
  st.regenerated = false;
  const d = core.data as Record<string, unknown>;
  if (st.lastUid !== null) {
    for (const k of Object.keys(d)) if (k !== AUTH_KEY) delete d[k];
    await core.rotate();
  } else if (core.record) {
    await core.destroy();
    st.retired.push(core);
    st.core = await st.manager.load({ ...st.info, cookie: undefined });
  } else {
    for (const k of Object.keys(d)) delete d[k];
  }
}

/**
 * Everything the response needs: reconcile, commit retired + current sessions, finish a migration.
 * Serialised per request, so a `save()` still in flight and the end of the response never commit
 * the same session twice at once.
 */
function finalize<D extends Record<string, unknown>>(st: State<D>, req: Req): Promise<Array<[string, string]>> {
  const prev = st.chain as Promise<unknown> | undefined;
  const run = prev ? prev.then(() => finalizeNow(st, req), () => finalizeNow(st, req)) : finalizeNow(st, req);
  st.chain = run;
  return run;
}

async function finalizeNow<D extends Record<string, unknown>>(st: State<D>, req: Req): Promise<Array<[string, string]>> {
  const headers: Array<[string, string]> = [];
  if (req.session == null && st.view !== null && !st.core.destroyed) {
    // `req.session = null`: express-session's `unset` option decides.
    if (st.unsetDestroy) await st.core.destroy();
    st.view = null;
  }
  if (st.expireNow && !st.core.destroyed) {
    // cookie.maxAge = 0 / a past expires: express-session sends an expired cookie, so the browser
    // forgets the session; ending it on the server as well leaves nothing behind.
    st.expireNow = false;
    await st.core.destroy();
    st.view = null;
  }
  await reconcile(st);
  const core = st.core;
  if (!core.destroyed && st.flags.resave && !core.isNew) core.touch();
  const commitOpts = core.destroyed ? {} : { saveEmpty: st.flags.saveUninitialized && core.isNew, reissueCookie: st.flags.rolling };
  try {
    for (const r of st.retired.splice(0)) headers.push(...(await st.manager.commit(r)).headers);
    headers.push(...(await st.manager.commit(st.core, commitOpts)).headers);
  } catch (err) {
    await releaseLegacy(st);
    throw err;
  }
  req.sessionID = st.core.destroyed ? undefined : (st.core.id ?? undefined);
  if (st.legacy && (st.legacyId !== null || st.legacyClear)) {
    // Only after the new session is safely stored: a failure above keeps the old one usable.
    if (st.legacyId !== null) await st.legacy.remove(st.legacyId);
    headers.push(['set-cookie', st.legacy.clearCookie]);
    st.legacyId = null;
    st.legacyClaimed = false;
    st.legacyClear = false;
  }
  return headers;
}

/** The migrated session was not stored: give the claim back, so the old cookie still works next time. */
async function releaseLegacy(st: State<any>): Promise<void> {
  if (!st.legacy || !st.legacyClaimed || st.legacyId === null) return;
  st.legacyClaimed = false;
  await st.legacy.release(st.legacyId).catch(() => undefined);
}

/** Set the session's headers (a later Set-Cookie for the same cookie name replaces an earlier one). */
function applyHeaders(res: Res, headers: Array<[string, string]>): void {
  if (res.headersSent) return;
  setSessionHeaders(res, headers);
}

/** Replace whatever the app prepared with a bare error response: status and stable code only. */
function sendFailure(res: Res, err: unknown, end: (...a: any[]) => unknown, writeHead?: (...a: any[]) => unknown): void {
  const status = isSessionwardError(err) ? err.status : 500;
  const code = isSessionwardError(err) ? err.code : 'ERR_INTERNAL';
  if (!res.headersSent) {
    forgetSessionHeaders(res);
    for (const h of res.getHeaderNames()) res.removeHeader(h);
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    // What the error needs the client to know: Retry-After, a cookie to clear (ThrottledError).
    if (isSessionwardError(err)) for (const [k, v] of err.headers) res.appendHeader(k, v);
    if (writeHead) writeHead.call(res, status);
  }
  end.call(res, JSON.stringify({ error: code }));
}

/**
 * Defer the response until the session is committed: the first of writeHead/write/end/
 * flushHeaders starts the (async) commit; that call and every later one are queued and replayed
 * in order once the Set-Cookie headers are in place.
 */
function holdResponse(res: Res, commit: () => Promise<Array<[string, string]>>, onError: (err: unknown) => void): void {
  let phase: 0 | 1 | 2 = 0;
  /** write() returned false while held: a 'drain' is owed. */
  let owesDrain = false;
  /** The app has called end() (or writeHead/write): for it, the headers are gone. */
  let sealed = false;
  /** Our own commit is applying its headers. */
  let applying = false;
  const queue: Array<() => void> = [];
  /** Status line when the app sealed the response. */
  let status: { code: number; message: string } | null = null;
  const orig = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const start = (): void => {
    phase = 1;
    commit().then(
      (headers) => {
        applying = true;
        try {
          applyHeaders(res, headers);
        } finally {
          applying = false;
        }
        phase = 2;
        // A status set after the app ended the response is ignored unheld (the head is gone);
        // held, it would still reach the head, so the one the app ended with is put back.
        if (status) {
          res.statusCode = status.code;
          res.statusMessage = status.message;
        }
        for (const f of queue.splice(0)) f();
        releaseSocket();
        // A writer told to wait gets its 'drain' now, unless the socket itself is full (then
        // Node emits it when the socket drains).
        if (owesDrain && !res.writableNeedDrain && !res.writableEnded) res.emit('drain');
      },
      (err) => {
        phase = 2;
        queue.length = 0;
        releaseSocket();
        onError(err);
        applying = true;
        sendFailure(res, err, orig.end);
        applying = false;
      },
    );
  };
  const hold = <K extends keyof typeof orig>(name: K, ret: (args: unknown[]) => unknown): void => {
    const real = orig[name] as (...a: unknown[]) => unknown;
    // writeHead, explicit or implicit (end/write), puts the session's headers back on top of the
    // app's (Set-Cookie appended, no-store kept: SEC-13).
    const replay = name === 'writeHead' ? (args: unknown[]) => writeHeadKeeping(res, real as never, args) : (args: unknown[]) => real.apply(res, args);
    (res as any)[name] = function held(this: Res, ...args: unknown[]) {
      if (phase === 2) return replay(args);
      // A second writeHead after the response started fails as it would unheld (Express 4 and 5
      // both throw ERR_HTTP_HEADERS_SENT from res.set/res.status paths that reach here).
      if (name === 'writeHead' && sealed) throw headersSentError();
      if (!sealed) status = { code: res.statusCode, message: res.statusMessage };
      sealed = true;
      queue.push(() => replay(args));
      if (phase === 0) start();
      return ret(args);
    };
  };
  // Express's final handler destroys the socket when an error follows a sent response (say a
  // second res.json()). Unheld, the first response has reached the socket by then; held, it is
  // still in our queue — so the destroy waits its turn behind it.
  const socket = res.socket;
  const realDestroy = socket?.destroy;
  const heldDestroy = function (this: unknown, ...args: unknown[]) {
    if (phase !== 2 && sealed) {
      queue.push(() => realDestroy!.apply(socket, args as []));
      return socket;
    }
    return realDestroy!.apply(socket, args as []);
  } as NonNullable<typeof realDestroy>;
  if (socket) socket.destroy = heldDestroy;
  // A keep-alive socket serves further requests: give it its own destroy back once this one is out.
  const releaseSocket = (): void => {
    if (socket && socket.destroy === heldDestroy) socket.destroy = realDestroy!;
  };
  hold('writeHead', () => res);
  // While held the bytes sit in our queue: past the response's high-water mark write() says
  // "wait for drain", as an unheld response would, so a streamed body cannot pile up in memory
  // without bound behind a slow store. 'drain' follows once the queue has gone out.
  let queued = 0;
  hold('write', (args) => {
    const chunk = args[0] as string | Uint8Array | undefined;
    queued += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk?.byteLength ?? 0);
    if (queued < res.writableHighWaterMark) return true;
    owesDrain = true;
    return false;
  });
  hold('end', () => res);
  hold('flushHeaders', () => undefined);
  // While held, the response must look sent to the app, as it would without the hold: a second
  // res.json()/res.send() then fails with Express's own "Cannot set headers after they are sent"
  // instead of rewriting the headers of the first response before it goes out.
  for (const name of ['setHeader', 'appendHeader', 'removeHeader'] as const) {
    const real = (res as any)[name] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof real !== 'function') continue;
    (res as any)[name] = function guarded(this: Res, ...args: unknown[]) {
      if (sealed && !applying && phase !== 2) throw headersSentError();
      return real.apply(res, args);
    };
  }
  Object.defineProperty(res, 'headersSent', { configurable: true, get: () => (sealed && !applying) || HEADERS_SENT.call(res) });
}

/** Node's own `headersSent` getter (Express does not override it), looked up once. */
const HEADERS_SENT = Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'headersSent')!.get! as (this: ServerResponse) => boolean;

function headersSentError(): Error {
  return Object.assign(new Error('Cannot set headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

/** RFC 6265 cookie-octets: a value from cookie-parser can never smuggle another cookie in. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,4096}$/;

/**
 * The Cookie header the session is read from. Like express-session, when the header itself has no
 * session cookie, the one cookie-parser left in `req.signedCookies`, then `req.cookies`, is used
 * (some setups hand cookies over only that way). It still has to pass our own MAC (SEC-3):
 * cookie-parser's signature is made with its own secret and proves nothing to us.
 */
function cookieSource(req: Req, name: string): string | undefined {
  const header = req.headers.cookie;
  if (parseCookieHeader(header, name)[name] !== undefined) return header;
  for (const jar of [req.signedCookies, req.cookies]) {
    if (typeof jar !== 'object' || jar === null || !Object.prototype.hasOwnProperty.call(jar, name)) continue;
    // Only strings: cookie-parser turns `j:` values into objects.
    const v = (jar as Record<string, unknown>)[name];
    if (typeof v === 'string' && COOKIE_VALUE.test(v)) return typeof header === 'string' && header ? `${header}; ${name}=${v}` : `${name}=${v}`;
  }
  return header;
}

function clientIp(this: Req): string | undefined {
  return this.ip ?? this.socket?.remoteAddress;
}

function defaultUserId(d: Record<string, any>): string | number | null | undefined {
  const u = d?.passport?.user;
  return typeof u === 'string' || typeof u === 'number' ? u : null;
}

function cookieOptions(name: string | undefined, c: ExpressCookieOptions = {}): CookieOptions {
  if (typeof c !== 'object' || c === null) throw new ConfigError('cookie must be an object (cookie functions are not supported)');
  if (c.secure === false && !c.insecureDevelopmentCookies) {
    throw new ConfigError('cookie.secure: false is refused; for plain-HTTP local development set cookie.insecureDevelopmentCookies: true');
  }
  if (c.httpOnly === false) throw new ConfigError('cookie.httpOnly: false is refused: session cookies are always HttpOnly (SEC-4)');
  if (c.expires !== undefined) throw new ConfigError('cookie.expires is refused: use cookie.maxAge (expiry is enforced server-side)');
  let sameSite: CookieOptions['sameSite'];
  if (c.sameSite === true) sameSite = 'Strict';
  else if (c.sameSite === 'auto') sameSite = c.insecureDevelopmentCookies ? 'Lax' : 'None';
  else if (c.sameSite === false) throw new ConfigError('cookie.sameSite: false is refused: SameSite is always explicit (SEC-5)');
  else if (typeof c.sameSite === 'string') {
    const s = c.sameSite.toLowerCase();
    if (s !== 'lax' && s !== 'strict' && s !== 'none') throw new ConfigError(`cookie.sameSite ${JSON.stringify(c.sameSite)} is not supported`);
    sameSite = s === 'lax' ? 'Lax' : s === 'strict' ? 'Strict' : 'None';
  }
  const out: CookieOptions = {};
  if (name !== undefined) out.name = name;
  if (sameSite) out.sameSite = sameSite;
  if (c.domain !== undefined) out.domain = c.domain;
  if (c.path !== undefined) out.path = c.path;
  if (c.maxAge !== undefined && c.maxAge !== null) out.maxAge = c.maxAge;
  if (c.partitioned) out.partitioned = true;
  if (c.priority !== undefined) {
    const p = String(c.priority).toLowerCase();
    if (p !== 'low' && p !== 'medium' && p !== 'high') throw new ConfigError(`cookie.priority ${JSON.stringify(c.priority)} is not supported`);
    out.priority = p === 'low' ? 'Low' : p === 'medium' ? 'Medium' : 'High';
  }
  if (c.insecureDevelopmentCookies) out.insecureDevelopmentCookies = true;
  return out;
}

function looksLikeExpressStore(s: any): boolean {
  return !!s && typeof s.set === 'function' && typeof s.create !== 'function';
}

/** Build the SessionManager an `ExpressSessionOptions` describes (exported for tests and tools). */
export function managerFromOptions<D extends Record<string, unknown>>(o: ExpressSessionOptions<D>): SessionManager<D> {
  if (o.genid !== undefined) throw new ConfigError('genid is refused: session tokens always come from the CSPRNG (SEC-1)');
  if (o.unset !== undefined && o.unset !== 'keep' && o.unset !== 'destroy') throw new ConfigError('unset must be "keep" or "destroy"');
  if (o.manager) {
    if (o.secret !== undefined || o.store !== undefined || o.cookie !== undefined || o.name !== undefined || o.key !== undefined) {
      throw new ConfigError('with `manager`, configure secret/store/cookie/name on the manager');
    }
    // The manager's key ring stands in for `secret`: without either, cookies would go out unsigned.
    if (o.manager.options.keys.length === 0) throw new ConfigError('secret option required for sessions: the manager has no secrets');
    return o.manager;
  }
  if (looksLikeExpressStore(o.store)) {
    throw new ConfigError('store must be a sessionward SessionStore; to read an express-session store use the `legacy` option');
  }
  // express-session answers every request with "secret option required for sessions"; refusing
  // at start-up says the same sooner, and never lets cookies go out unsigned.
  if (o.secret === undefined || o.secret === null) throw new ConfigError('secret option required for sessions');
  const secrets = typeof o.secret === 'string' || o.secret instanceof Uint8Array ? [o.secret] : [...o.secret];
  if (secrets.length === 0) throw new ConfigError('secret array must contain at least one secret');
  const {
    secret: _secret, store, name, key, cookie, rolling: _r, resave: _rs, saveUninitialized: _su, unset: _u, proxy: _p,
    genid: _g, manager: _m, userId: _uid, legacy: _l, onError: _e, ...core
  } = o;
  return new SessionManager<D>({
    ...core,
    store: store ?? new MemoryStore(),
    secrets,
    // `name || key`, as express-session picks them.
    cookie: cookieOptions(name || key || undefined, cookie),
  });
}

/**
 * express-session-compatible middleware.
 *
 * @example
 * app.use(session({ secret: [process.env.SESSION_SECRET!], store, cookie: { maxAge: 8 * 3600_000 } }))
 * app.post('/login', passport.authenticate('local'), (req, res) => res.redirect('/'))
 */
export function session<D extends Record<string, unknown> = Record<string, any>>(options: ExpressSessionOptions<D> = {}): (req: any, res: any, next: Next) => void {
  const manager = managerFromOptions(options);
  const legacy = options.legacy ? createLegacy(options.legacy, { store: manager.store, clock: manager.options.clock }) : null;
  const unsetDestroy = options.unset === 'destroy';
  const pick = options.userId ?? defaultUserId;
  const userIdOf = (d: Record<string, any>): string | null => {
    const u = pick(d);
    if (typeof u === 'number' && Number.isFinite(u)) return String(u);
    return typeof u === 'string' && u.length > 0 && u.length <= 256 ? u : null;
  };
  const onError = options.onError ?? (() => undefined);
  const flags: Flags = { rolling: options.rolling === true, resave: options.resave === true, saveUninitialized: options.saveUninitialized === true };

  return function sessionward(req: Req, res: Res, next: Next): void {
    if (req.session) return next();
    const ua = req.headers['user-agent'];
    // The IP is read only when needed: Express's req.ip runs proxy-addr on every access.
    const info: RequestInfo = { cookie: cookieSource(req, manager.cookieName), userAgent: typeof ua === 'string' ? ua : undefined, ip: clientIp.bind(req) };
    (async () => {
      if (await answerEndpoint(manager, req, res, clientIp.bind(req))) return false;
      let core = await manager.load(info);
      const st: State<D> = {
        manager, core, view: null, info, regenerated: false, lastUid: null, retired: [],
        legacyId: null, legacyClear: false, legacy, userIdOf, res, flags,
      };
      st.req = req;
      st.unsetDestroy = unsetDestroy;
      if (legacy && core.isNew && parseCookieHeader(info.cookie, manager.cookieName)[manager.cookieName] === undefined) {
        const hit = await legacy.read(req.headers.cookie);
        if (hit === 'invalid' || (hit !== null && hit.data === null)) {
          st.legacyClear = true;
          if (hit !== 'invalid') st.legacyId = hit.id;
        } else if (hit !== null && (await legacy.claim(hit))) {
          // Claimed before the handler runs: a concurrent replay of the same old cookie finds the
          // claim taken and stays anonymous (its cookie is left for the winner's response to clear).
          st.legacyClear = true;
          st.legacyId = hit.id;
          st.legacyClaimed = true;
          st.legacyUntil = hit.notAfter;
          core = await manager.load({ ...info, cookie: undefined });
          Object.assign(core.data, hit.data);
          st.core = core;
        }
      }
      st.view = new View(st);
      hydrate(st.view, core.data);
      // A migrated session has no sessionward user yet: leaving lastUid null makes commit log it in.
      if (st.legacyId === null) st.lastUid = userIdOf(st.view as unknown as Record<string, any>);
      // Log a migrated user in now, so the handler already sees the upgraded session.
      else {
        try {
          await reconcile(st);
          // Only the sign-in the old cookie carried is a carried-over one: a login by the handler is real.
          st.legacyUntil = undefined;
        } catch (err) {
          await releaseLegacy(st);
          throw err;
        }
      }
      // Plain assignments: defineProperty on a request object pushes it into slow dictionary mode.
      (req as any)[STATE] = st;
      req.sessionID = core.id ?? undefined;
      req.session = st.view;
      holdResponse(res, () => finalize(st, req), (err) => onError(err, req));
      return true;
    })().then(
      (go) => go && next(),
      (err) => {
        onError(err, req);
        sendFailure(res, err, res.end);
      },
    );
  };
}

/** The core Session behind `req.session` (userId, listSessions, requireFreshAuth, ...). */
export function coreSession<D extends Record<string, unknown> = Record<string, any>>(req: IncomingMessage): Session<D> | null {
  const st = (req as any)[STATE] as State<D> | undefined;
  return st ? st.core : null;
}

/**
 * Error middleware: sessionward's typed errors (e.g. UnauthenticatedError from `requireAuth`)
 * become their status and stable code; anything else goes to the next handler.
 *
 * @example
 * app.use(sessionErrors())
 */
export function sessionErrors(): (err: unknown, req: any, res: any, next: Next) => void {
  return (err, _req, res, next) => {
    if (!isSessionwardError(err) || res.headersSent) return next(err);
    sendFailure(res, err, res.end);
  };
}

/**
 * CSRF middleware (SEC-22..26): Fetch Metadata / Origin checks on unsafe methods, optionally the
 * synchronizer token (`x-csrf-token` header or `_csrf` body field), `Vary` on every response, 403
 * and an event on failure. Adds `req.csrfToken()`. Mount it after `session()` (and after a body
 * parser when forms carry the token).
 *
 * @example
 * app.use(session({ secret }))
 * app.use(express.urlencoded({ extended: false }))
 * app.use(csrfProtection({ origin: 'https://app.example.com', token: true, onEvent: log }))
 */
export function csrfProtection(options: CsrfGuardOptions): (req: any, res: any, next: Next) => void {
  const o = compileGuard(options);
  const src = tokenSources(o);
  return (req: Req, res: Res, next: Next) => {
    res.setHeader('vary', mergeVary(res.getHeader('vary')));
    const st = (req as any)[STATE] as State<any> | undefined;
    req.csrfToken = () => {
      if (!st) throw new ConfigError('csrfProtection needs the sessionward session() middleware before it');
      return getCsrfToken(st.core);
    };
    const body = req.body && typeof req.body === 'object' && src ? req.body[src.field] : undefined;
    const reason = checkCsrf(req as any, st?.core ?? null, o, body);
    if (!reason) return next();
    void emitCsrfEvent(o, reason, req.method ?? '', {
      ip: req.ip ?? req.socket?.remoteAddress,
      sid: async () => (st?.core.id ? st.manager.sid(st.core.id) : undefined),
    });
    res.statusCode = 403;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify({ error: 'ERR_CSRF' }));
  };
}
