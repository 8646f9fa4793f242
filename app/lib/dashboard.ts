/**
 * The security dashboard's figures, read from the SQLite history (so they survive a restart) over
 * a window, plus the live session counts from the store. Ratios here are for a person looking at a
 * page; `/metrics` exposes counters only, for `rate()` in PromQL (docs/monitoring.md).
 */
import type { SessionStore } from 'sessionward';
import { bindingOf } from 'sessionward/dbsc';
import { COOKIE_CHECKS, type CookieCheck } from 'sessionward/metrics';
import type { Accounts } from './accounts.js';
import { FAILED_TYPES, THROTTLED_TYPES, type SecurityLog } from './security-log.js';

export const WINDOW_MS = 24 * 3_600_000;
export const SERIES_MINUTES = 30;

export type SeriesKey = 'signinOk' | 'signinFail' | 'throttled' | 'created' | 'rotated' | 'ended' | 'blocked';

/** Which event types make each series. */
const SERIES: Record<SeriesKey, readonly string[]> = {
  signinOk: ['signin.success'],
  signinFail: FAILED_TYPES,
  throttled: THROTTLED_TYPES,
  created: ['session.created'],
  rotated: ['session.rotated'],
  ended: ['session.destroyed', 'session.expired', 'sessions.revoked'],
  blocked: ['csrf.rejected', 'token.invalid', 'alert.invalid_tokens', 'session.binding_violation'],
};

/** Events an operator should look at: forged or ended tokens, blocked requests, odd sign-ins. */
export const SUSPICIOUS: ReadonlySet<string> = new Set([
  'token.invalid',
  'token.unknown',
  'alert.invalid_tokens',
  'csrf.rejected',
  'signin.failure',
  'signin.rate_limited',
  'signup.existing_email',
  'signup.rate_limited',
  'mfa.failure',
  'reauth.failure',
  'anomaly.detected',
  'session.anomaly',
  'session.conflict',
  'session.binding_violation',
]);

export interface Stats {
  at: string;
  windowHours: number;
  activeSessions: number;
  /** Live sessions bound to a device key (DBSC), and the rest. */
  boundSessions: number;
  unboundSessions: number;
  mfa: { accounts: number; enabled: number; rate: number | null };
  signins: { success: number; failed: number; throttled: number; successRate: number | null };
  topIps: Array<{ ip: string; failed: number; throttled: number }>;
  topAccounts: Array<{ userId: string; email: string; failed: number; throttled: number }>;
  anomalies: Array<{ signal: string; action: string; count: number }>;
  csrf: Array<{ reason: string; count: number }>;
  invalidTokens: number;
  bindingViolations: number;
  expirationRate: number | null;
  rotationsPerSession: number | null;
  cookie: { checks: Array<{ id: CookieCheck; label: string; pass: number; fail: number }>; last: string | null; total: number };
  series: { start: string; minutes: number; data: Record<SeriesKey, number[]> };
}

export interface StatsSources {
  history: SecurityLog;
  clock: () => number;
  sessions: () => Promise<{ active: number; bound: number }>;
  mfa: () => { accounts: number; enabled: number };
  emailOf: (userId: string) => string | null;
  lastCookie: string | null;
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

export async function dashboardStats(src: StatsSources): Promise<Stats> {
  const now = src.clock();
  const since = now - WINDOW_MS;
  const h = src.history;
  const n = h.countsByType(since);
  const c = (...types: readonly string[]) => types.reduce((s, t) => s + (n[t] ?? 0), 0);
  const live = await src.sessions();
  const mfa = src.mfa();
  const success = c('signin.success');
  const failed = c(...FAILED_TYPES);
  const throttled = c(...THROTTLED_TYPES);
  const expired = c('session.expired', 'token.unknown');
  const perType = h.perMinute(Object.values(SERIES).flat(), SERIES_MINUTES);
  const data = Object.fromEntries(
    (Object.keys(SERIES) as SeriesKey[]).map((k) => [k, Array.from({ length: SERIES_MINUTES }, (_, i) => SERIES[k].reduce((s, t) => s + (perType.data[t]?.[i] ?? 0), 0))]),
  ) as Record<SeriesKey, number[]>;
  const cookies = h.counters('cookie:');
  return {
    at: new Date(now).toISOString(),
    windowHours: WINDOW_MS / 3_600_000,
    activeSessions: live.active,
    boundSessions: live.bound,
    unboundSessions: live.active - live.bound,
    mfa: { ...mfa, rate: ratio(mfa.enabled, mfa.accounts) },
    // Throttled attempts were never checked: they are not failures of the password, and the success
    // rate counts them apart (a flood of 429s is the throttle working, not users mistyping).
    signins: { success, failed, throttled, successRate: ratio(success, success + failed) },
    topIps: h.topFailing('ip', since).map((r) => ({ ip: r.key, failed: r.failed, throttled: r.throttled })),
    topAccounts: h.topFailing('user_id', since).map((r) => ({ userId: r.key, email: src.emailOf(r.key) ?? '(deleted account)', failed: r.failed, throttled: r.throttled })),
    anomalies: h.anomalies(since),
    csrf: h.csrfReasons(since),
    invalidTokens: c('token.invalid', 'alert.invalid_tokens'),
    bindingViolations: c('session.binding_violation'),
    expirationRate: ratio(expired, expired + c('session.destroyed', 'sessions.revoked')),
    rotationsPerSession: ratio(c('session.rotated'), c('session.created')),
    cookie: {
      checks: (Object.keys(COOKIE_CHECKS) as CookieCheck[]).map((id) => ({ id, label: COOKIE_CHECKS[id], pass: cookies[`${id}:pass`] ?? 0, fail: cookies[`${id}:fail`] ?? 0 })),
      last: src.lastCookie,
      total: cookies.total ?? 0,
    },
    series: { start: new Date(perType.start).toISOString(), minutes: SERIES_MINUTES, data },
  };
}

/** Live signed-in sessions and how many are bound to a device key (DBSC): one walk over the users. */
export async function countSessions(accounts: Accounts, store: SessionStore, clock: () => number): Promise<{ active: number; bound: number }> {
  let active = 0;
  let bound = 0;
  const now = clock();
  for (const u of accounts.list()) {
    for (const r of await store.listByUser(u.id, now)) {
      // As listUserSessions counts: live, not a rotation pointer, still this user's.
      if (r.rotatedTo || r.userId !== u.id || r.expiresAt <= now) continue;
      active++;
      if (bindingOf(r.data)) bound++;
    }
  }
  return { active, bound };
}

export function countMfa(accounts: Accounts): { accounts: number; enabled: number } {
  const all = accounts.list();
  return { accounts: all.length, enabled: all.filter((u) => u.totpSecret).length };
}
