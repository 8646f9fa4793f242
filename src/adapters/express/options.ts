/**
 * express-session's options in sessionward's terms: the names it used (`secret`, `name`, `key`,
 * `cookie.*`, `rolling`, `resave`, `saveUninitialized`, `unset`) translated to a SessionManager,
 * and what would weaken a secure default refused at start-up with a ConfigError that says why.
 */
import type { IncomingMessage } from 'node:http';
import { SessionManager } from '../../node-manager.js';
import type { CookieOptions, SessionManagerOptions } from '../../core/options.js';
import type { SessionStore } from '../../stores/types.js';
import { MemoryStore } from '../../stores/memory.js';
import { ConfigError } from '../../errors.js';
import type { LegacyOptions } from './legacy.js';
import type { Flags } from './state.js';

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
  /** Migrate express-session cookies and sessions on first contact (see legacy.ts). */
  legacy?: LegacyOptions;
  /** Called with every error turned into an error response (log it; the client sees a code only). */
  onError?: (err: unknown, req: IncomingMessage) => void;
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

/** The saving options (`rolling`, `resave`, `saveUninitialized`) as the commit applies them. */
export function flagsOf(o: ExpressSessionOptions<any>): Flags {
  return { rolling: o.rolling === true, resave: o.resave === true, saveUninitialized: o.saveUninitialized === true };
}

/**
 * The user a session's data names (`userId`, default Passport's `passport.user`), as the string
 * the core logs in: a finite number or a string of 1..256 characters; anything else is no user.
 */
export function userIdPicker(o: ExpressSessionOptions<any>): (d: Record<string, any>) => string | null {
  const pick = o.userId ?? defaultUserId;
  return (d) => {
    const u = pick(d);
    if (typeof u === 'number' && Number.isFinite(u)) return String(u);
    return typeof u === 'string' && u.length > 0 && u.length <= 256 ? u : null;
  };
}
