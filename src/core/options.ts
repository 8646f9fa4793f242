import { ConfigError } from '../errors.js';
import { keyBytes } from '../lib/key-errors.js';
import { validateCookieOptions, type SameSite } from '../cookie/index.js';
import type { SessionStore } from '../stores/types.js';
import type { SessionCrypto } from '../crypto/types.js';
import type { SessionEvent } from './events.js';
import type { SessionGuard } from './guard.js';
import { loggerSink, type LoggerLike } from '../monitor/logger.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * NIST SP 800-63B-4 section 5 reauthentication presets (SEC-12): the absolute limit is the
 * "reauthenticate at least every" figure; the idle limit is the inactivity timeout.
 * AAL1 sets no inactivity requirement; we use the absolute figure so it is still server-enforced.
 */
export const AAL_PRESETS = {
  aal1: { absoluteTimeout: 30 * DAY, idleTimeout: 30 * DAY },
  aal2: { absoluteTimeout: 24 * HOUR, idleTimeout: 1 * HOUR },
  aal3: { absoluteTimeout: 12 * HOUR, idleTimeout: 15 * MINUTE },
} as const;
export type AalPreset = keyof typeof AAL_PRESETS;

export interface CookieOptions {
  /** Default `__Host-sid`: generic (SEC-2) and host-locked (SEC-6). */
  name?: string;
  sameSite?: SameSite;
  /** Only without the `__Host-` prefix. */
  domain?: string;
  path?: string;
  /**
   * Persistent cookie lifetime in ms. Absent (default) = browser-session cookie (SEC-8). Always
   * capped at the session's remaining absolute lifetime and 400 days.
   */
  maxAge?: number;
  partitioned?: boolean;
  /** Chrome's `Priority` attribute (eviction order under the per-domain cookie limit). */
  priority?: 'Low' | 'Medium' | 'High';
  /**
   * Named opt-in for plain-HTTP local development: drops `Secure` and the `__Host-` prefix
   * (the name becomes `sid` unless set). Warns once at start-up (SEC-18).
   */
  insecureDevelopmentCookies?: boolean;
}

export interface SessionManagerOptions {
  store: SessionStore;
  /**
   * Keys for the cookie MAC, newest first; each at least 32 bytes. The newest signs, all verify;
   * a cookie verified by an older key is re-issued. With secrets, a forged cookie is rejected
   * before any store lookup (SEC-3). Strongly recommended.
   */
  secrets?: ReadonlyArray<string | Uint8Array>;
  cookie?: CookieOptions;
  /** NIST AAL preset (default `aal2`); explicit timeouts below override it within its limits. */
  preset?: AalPreset;
  /** Inactivity limit in ms (SEC-11). */
  idleTimeout?: number;
  /** Hard limit since (re-)authentication in ms (SEC-11). */
  absoluteTimeout?: number;
  /**
   * Activity is written at most once per this many ms (rolling renewal throttle). Default
   * min(idleTimeout / 10, 60 s). Idle expiry is computed from the last written activity, so a
   * session can expire up to this much early — never late.
   */
  touchAfter?: number;
  /** How long an old token still resolves to its rotated successor (ms, SEC-18). Default 10 s, max 60 s. */
  rotationGrace?: number;
  /** Keys of pre-login data that survive `login()` (SEC-17). Default: none. */
  preLoginKeys?: readonly string[];
  /** Send `Clear-Site-Data: "cookies", "storage"` on logout (SEC-36). Default false. */
  clearSiteData?: boolean;
  /**
   * What to do when a concurrent request changed the same key this request changed:
   * `'error'` (default) throws SessionConflictError (409) and writes nothing;
   * `'last-write-wins'` keeps this request's value for that key. Other keys always merge.
   */
  onConflict?: 'error' | 'last-write-wins';
  /** SEC-42: alert (and optionally refuse) a source that sends many invalid tokens. */
  invalidTokenLimit?: { max: number; windowMs: number; action?: 'alert' | 'throttle' };
  /** Crypto implementation; node:crypto by default, `webCrypto` for edge runtimes. */
  crypto?: SessionCrypto;
  /** Clock in ms since epoch; inject a fake one in tests. */
  clock?: () => number;
  /** Event sink (SEC-40). Events carry keyed hashes of ids, never tokens (SEC-41). */
  onEvent?: (event: SessionEvent) => void;
  /**
   * A pino-compatible logger (`debug/info/warn/error`, optional `child`). Configuration warnings
   * and every event go through it at their level: refusals (forged or unknown cookies, throttling,
   * conflicts, step-up, binding violations) explain themselves in `development` — which check
   * failed and what to change — and carry only codes and keyed hashes in `production`, never a
   * token or secret (SEC-41). Runs beside `onEvent`, never instead of it.
   *
   * @example
   * new SessionManager({ store, secrets, logger: pino(), logMode: 'production' })
   */
  logger?: LoggerLike;
  /** How `logger` writes: default `production` unless NODE_ENV is `development` or `test`. */
  logMode?: 'development' | 'production';
  /** Receives configuration warnings (the plain-HTTP development warning); default `logger.warn`, else console.warn. */
  warn?: (message: string) => void;
  /** Device binding (e.g. `new DeviceBoundSessions()` from `sessionward/dbsc`); see docs/device-binding.md. */
  guard?: SessionGuard;
}

export interface ResolvedOptions {
  store: SessionStore;
  keys: Uint8Array[];
  cookieName: string;
  cookieAttrs: { secure: boolean; httpOnly: true; sameSite: SameSite; path: string; domain?: string; partitioned?: boolean; priority?: 'Low' | 'Medium' | 'High' };
  cookieMaxAge: number | undefined;
  idleTimeout: number;
  absoluteTimeout: number;
  touchAfter: number;
  rotationGrace: number;
  preLoginKeys: readonly string[];
  clearSiteData: boolean;
  onConflict: 'error' | 'last-write-wins';
  invalidTokenLimit: { max: number; windowMs: number; action: 'alert' | 'throttle' };
  clock: () => number;
  guard: SessionGuard | null;
}

function toKey(s: string | Uint8Array, i: number): Uint8Array {
  return keyBytes(s, `secrets[${i}]`, 32, 'session');
}

function positive(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new ConfigError(`${name} must be a positive number of milliseconds`);
}

/** Validate everything at construction so that misuse fails at start-up, not per request. */
export function resolveOptions(o: SessionManagerOptions): ResolvedOptions {
  if (!o || typeof o !== 'object' || !o.store) throw new ConfigError('a store is required');
  const presetName = o.preset ?? 'aal2';
  const preset = AAL_PRESETS[presetName];
  if (!preset) throw new ConfigError(`unknown preset ${String(presetName)}`);
  positive('idleTimeout', o.idleTimeout);
  positive('absoluteTimeout', o.absoluteTimeout);
  positive('touchAfter', o.touchAfter);
  const absoluteTimeout = o.absoluteTimeout ?? preset.absoluteTimeout;
  const idleTimeout = Math.min(o.idleTimeout ?? preset.idleTimeout, absoluteTimeout);
  // SEC-12: an explicit preset is a promise; longer limits than it allows are a configuration error.
  if (o.preset && (absoluteTimeout > preset.absoluteTimeout || idleTimeout > preset.idleTimeout)) {
    throw new ConfigError(`${presetName.toUpperCase()} allows at most ${preset.absoluteTimeout / HOUR} h absolute and ${preset.idleTimeout / MINUTE} min idle`);
  }
  const rotationGrace = o.rotationGrace ?? 10_000;
  if (!Number.isFinite(rotationGrace) || rotationGrace < 0 || rotationGrace > 60_000) {
    throw new ConfigError('rotationGrace must be between 0 and 60000 ms');
  }
  const keys = (o.secrets ?? []).map(toKey);

  const c = o.cookie ?? {};
  const insecure = c.insecureDevelopmentCookies === true;
  const cookieName = c.name ?? (insecure ? 'sid' : '__Host-sid');
  const cookieAttrs: ResolvedOptions['cookieAttrs'] = {
    secure: !insecure,
    httpOnly: true,
    sameSite: c.sameSite ?? 'Lax',
    path: c.path ?? '/',
  };
  if (c.domain) cookieAttrs.domain = c.domain;
  if (c.partitioned) cookieAttrs.partitioned = true;
  if (c.priority !== undefined) {
    if (!['Low', 'Medium', 'High'].includes(c.priority)) throw new ConfigError("cookie.priority must be 'Low', 'Medium' or 'High'");
    cookieAttrs.priority = c.priority;
  }
  positive('cookie.maxAge', c.maxAge);
  if (c.maxAge !== undefined && c.maxAge > 400 * 24 * HOUR) throw new ConfigError('cookie.maxAge must not exceed 400 days');
  validateCookieOptions(cookieName, { ...cookieAttrs, maxAge: c.maxAge === undefined ? undefined : Math.floor(c.maxAge / 1000) });
  if (insecure) {
    configWarning(o, 'insecure_development_cookies', `sessionward: insecureDevelopmentCookies is on — session cookies are sent without Secure over plain HTTP. Never use this in production.`);
  }

  const lim = o.invalidTokenLimit ?? { max: 50, windowMs: 60_000 };
  return {
    store: o.store,
    keys,
    cookieName,
    cookieAttrs,
    cookieMaxAge: c.maxAge,
    idleTimeout,
    absoluteTimeout,
    touchAfter: Math.min(o.touchAfter ?? Math.min(idleTimeout / 10, 60_000), idleTimeout),
    rotationGrace,
    preLoginKeys: o.preLoginKeys ?? [],
    clearSiteData: o.clearSiteData ?? false,
    onConflict: o.onConflict ?? 'error',
    invalidTokenLimit: { max: lim.max, windowMs: lim.windowMs, action: lim.action ?? 'alert' },
    clock: o.clock ?? Date.now,
    guard: o.guard ?? null,
  };
}

/** A configuration warning: to `warn` if given, else the logger (with a stable code), else the console. */
function configWarning(o: SessionManagerOptions, code: string, message: string): void {
  // An event too, so a monitoring pipeline sees a risky setting without reading logs. Only to
  // onEvent: the logger gets its own line below, and the same warning twice would be noise.
  try {
    o.onEvent?.({ type: 'config.warning', at: new Date((o.clock ?? Date.now)()).toISOString(), reason: code });
  } catch {
    // Observability must not stop the start.
  }
  if (o.warn) return o.warn(message);
  if (o.logger) {
    try {
      (o.logger.child ? o.logger.child({ lib: 'sessionward' }) : o.logger).warn({ type: 'config.warning', code }, message);
    } catch {
      // A logger that throws must not stop the start.
    }
    return;
  }
  console.warn(message);
}

/**
 * The manager's event sink: `onEvent` and, with `logger`, a logger sink beside it. Each is called
 * on its own, so a throwing logger never keeps an event from `onEvent` (or the reverse).
 */
export function eventSink(o: SessionManagerOptions): ((e: SessionEvent) => void) | undefined {
  if (o.logger !== undefined && (typeof o.logger !== 'object' || o.logger === null || typeof o.logger.warn !== 'function' || typeof o.logger.error !== 'function' || typeof o.logger.info !== 'function' || typeof o.logger.debug !== 'function')) {
    throw new ConfigError('logger must have debug, info, warn and error methods (a pino or console-like logger)');
  }
  const log = o.logger ? loggerSink(o.logger, o.logMode ? { mode: o.logMode } : {}) : undefined;
  const user = o.onEvent;
  if (!log) return user;
  if (!user) return log;
  return (e) => {
    try {
      user(e);
    } finally {
      log(e);
    }
  };
}
