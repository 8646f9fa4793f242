/**
 * Everything the security dashboard, `/metrics` and the audit log show comes through here:
 * session events from the manager's `onEvent`, the app's own events (sign-ins, CSRF blocks,
 * risk signals), and every Set-Cookie header the app emitted.
 *
 * Events are copied field by field from an allow-list, so nothing that was not meant for a log
 * (a token, a password, a CSRF token) can reach the feed, the audit file or a metric (SEC-41).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import { parseSetCookie } from 'sessionward';
import { checkCookie, COOKIE_CHECKS, type CookieCheck } from 'sessionward/metrics';

export interface AppEvent {
  type: string;
  /** ISO-8601 UTC. */
  at: string;
  /** Keyed hash of the session id (the manager's `sid`), never a token. */
  sid?: string;
  newSid?: string;
  userId?: string | null;
  ip?: string;
  userAgent?: string;
  reason?: string;
  count?: number;
}

/** Events an operator should look at: forged or ended tokens, blocked requests, odd sign-ins. */
export const SUSPICIOUS = new Set([
  'token.invalid',
  'token.unknown',
  'alert.invalid_tokens',
  'csrf.blocked',
  'signin.failure',
  'signin.rate_limited',
  'signup.existing_email',
  'signup.rate_limited',
  'mfa.failure',
  'risk.ip_change',
  'risk.ua_change',
  'session.conflict',
  'session.binding_violation',
]);

/**
 * Types `/metrics` counts under another name. `/metrics` is public unless METRICS_TOKEN is set, and
 * sign-up answers a free and a registered email alike: two counters there would tell a stranger
 * which one their sign-up hit. The feed, the admin stats and the audit log keep the exact type.
 */
const METRIC_TYPE: Readonly<Record<string, string>> = { 'account.created': 'signup.accepted', 'signup.existing_email': 'signup.accepted' };

const SERIES_MINUTES = 30;
type SeriesKey = 'signinOk' | 'signinFail' | 'created' | 'rotated' | 'ended' | 'blocked';
const SERIES_KEYS: SeriesKey[] = ['signinOk', 'signinFail', 'created', 'rotated', 'ended', 'blocked'];

// The checks and their labels are the library's (sessionward/metrics), so the dashboard and a
// Prometheus scrape of an app built on the library count the same thing.
export { COOKIE_CHECKS };
export type { CookieCheck };

export interface Stats {
  at: string;
  activeSessions: number;
  counters: Record<string, number>;
  signinSuccessRate: number | null;
  expirationRate: number | null;
  rotationsPerSession: number | null;
  rotationHistogram: number[];
  cookie: { checks: Array<{ id: CookieCheck; label: string; pass: number; fail: number }>; last: string | null; total: number };
  series: { start: string; minutes: number; data: Record<SeriesKey, number[]> };
  invalidTokens: number;
  csrfBlocked: number;
  suspicious: number;
  /** Live sessions bound to a device key (DBSC). */
  boundSessions: number;
  /** Requests refused by a device binding (a bound cookie replayed without its device, a wrong key). */
  bindingViolations: number;
}

const FIELDS = ['type', 'at', 'sid', 'newSid', 'userId', 'ip', 'userAgent', 'reason', 'count'] as const;

function sanitise(e: Record<string, unknown>): AppEvent {
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) {
    const v = e[k];
    if (v === undefined) continue;
    if (k === 'count' ? typeof v === 'number' : typeof v === 'string' || (k === 'userId' && v === null)) {
      out[k] = typeof v === 'string' ? v.slice(0, 300) : v;
    }
  }
  return out as unknown as AppEvent;
}

/** How long one active-session count serves /metrics (Prometheus scrapes every 15-60 s). */
const ACTIVE_SCRAPE_MS = 10_000;

export class Monitor {
  readonly registry = new Registry();
  private readonly counters = new Map<string, number>();
  private readonly minutes = new Map<number, Record<SeriesKey, number>>();
  private readonly feed: AppEvent[] = [];
  private readonly listeners = new Set<(e: AppEvent) => void>();
  /** Rotations so far of each live session chain, keyed by its current sid. Bounded. */
  private readonly chains = new Map<string, number>();
  private readonly cookieChecks = new Map<CookieCheck, { pass: number; fail: number }>();
  private cookieTotal = 0;
  private lastCookie: string | null = null;
  private lastAttributes: { name: string; attributes: Record<string, string | true> } | null = null;
  private readonly audit: WriteStream | null;
  private readonly eventsTotal: Counter<'type'>;
  private readonly cookieMetric: Counter<'check' | 'result'>;
  /** Supplies the live signed-in session count for the gauge and the dashboard. */
  activeSessions: () => Promise<number> = async () => 0;
  /** Supplies the live count of device-bound (DBSC) sessions for the dashboard. */
  boundSessions: () => Promise<number> = async () => 0;
  /** The gauge's last count: see `scrapedActiveSessions`. */
  private activeScrape: { at: number; value: Promise<number> } | null = null;

  constructor(
    private readonly clock: () => number,
    auditFile: string | null,
  ) {
    this.audit = auditFile ? createWriteStream(auditFile, { flags: 'a', mode: 0o600 }) : null;
    this.audit?.on('error', () => undefined);
    for (const c of Object.keys(COOKIE_CHECKS) as CookieCheck[]) this.cookieChecks.set(c, { pass: 0, fail: 0 });
    const registers = [this.registry];
    this.eventsTotal = new Counter({ name: 'sessionward_events_total', help: 'Session and security events by type', labelNames: ['type'], registers });
    this.cookieMetric = new Counter({
      name: 'sessionward_set_cookie_checks_total',
      help: 'Session Set-Cookie headers emitted, by attribute check and result',
      labelNames: ['check', 'result'],
      registers,
    });
    const active = () => this.scrapedActiveSessions();
    const signin = () => this.signinSuccessRate() ?? 0;
    const expiry = () => this.expirationRate() ?? 0;
    const rotations = () => this.rotationsPerSession() ?? 0;
    new Gauge({
      name: 'sessionward_active_sessions',
      help: 'Live signed-in sessions',
      registers,
      async collect() {
        this.set(await active());
      },
    });
    new Gauge({
      name: 'sessionward_signin_success_ratio',
      help: 'Successful sign-ins / all sign-in attempts since start',
      registers,
      collect() {
        this.set(signin());
      },
    });
    new Gauge({
      name: 'sessionward_session_expiration_ratio',
      help: 'Sessions ended by expiry / all ended sessions since start',
      registers,
      collect() {
        this.set(expiry());
      },
    });
    new Gauge({
      name: 'sessionward_rotations_per_session',
      help: 'Token rotations / sessions created since start',
      registers,
      collect() {
        this.set(rotations());
      },
    });
  }

  /**
   * The active-session count for /metrics. Counting walks every account and asks the store for
   * each (500 store queries per scrape), so scrapes share one count at a time and reuse it for
   * ACTIVE_SCRAPE_MS: the store's load no longer grows with the scrape rate, whoever scrapes. A
   * failed count is not kept. The admin dashboard counts afresh.
   */
  private scrapedActiveSessions(): Promise<number> {
    const now = performance.now();
    if (this.activeScrape && now - this.activeScrape.at < ACTIVE_SCRAPE_MS) return this.activeScrape.value;
    const value = this.activeSessions();
    const entry = { at: now, value };
    this.activeScrape = entry;
    value.catch(() => {
      if (this.activeScrape === entry) this.activeScrape = null;
    });
    return value;
  }

  /** Record one event from the manager or the app. */
  record(raw: Record<string, unknown> & { type: string }): void {
    const e = sanitise({ at: new Date(this.clock()).toISOString(), ...raw });
    this.counters.set(e.type, (this.counters.get(e.type) ?? 0) + 1);
    this.eventsTotal.inc({ type: METRIC_TYPE[e.type] ?? e.type });
    this.trackChain(e);
    // A bulk revocation is one event for many sessions.
    const n = e.type === 'sessions.revoked' ? (e.count ?? 0) : 1;
    if (e.type === 'sessions.revoked') this.counters.set('sessions.revoked.count', this.count('sessions.revoked.count') + n);
    const k = seriesKeyOf(e.type);
    if (k) this.bucket()[k] += n;
    this.feed.push(e);
    if (this.feed.length > 200) this.feed.shift();
    this.audit?.write(`${JSON.stringify(e)}\n`);
    for (const l of this.listeners) l(e);
  }

  /** Inspect the session cookie headers a response is about to carry (cookie-attribute compliance). */
  observeSetCookie(headers: string[], cookieName: string, cacheControl: string | undefined): void {
    for (const h of headers) {
      const c = parseSetCookie(h);
      if (!c || c.name !== cookieName) continue;
      const a = c.attributes;
      const maxAge = a['max-age'];
      const results = checkCookie(c, cacheControl);
      this.cookieTotal++;
      for (const [check, ok] of Object.entries(results) as [CookieCheck, boolean][]) {
        this.cookieChecks.get(check)![ok ? 'pass' : 'fail']++;
        this.cookieMetric.inc({ check, result: ok ? 'pass' : 'fail' });
      }
      // SEC-4: the value never leaves this function; only its length is kept.
      const attrs = h.slice(h.indexOf(';'));
      this.lastCookie = `${c.name}=<redacted, ${c.value.length} chars>${h.includes(';') ? attrs : ''}`;
      if (maxAge !== '0') this.lastAttributes = { name: c.name, attributes: { ...a } };
    }
  }

  /** Name and attributes (no value) of the last session cookie the app issued, or null. */
  lastIssuedCookie(): { name: string; attributes: Record<string, string | true> } | null {
    return this.lastAttributes;
  }

  subscribe(fn: (e: AppEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  recent(limit = 50): AppEvent[] {
    return this.feed.slice(-limit);
  }

  count(type: string): number {
    return this.counters.get(type) ?? 0;
  }

  signinSuccessRate(): number | null {
    const ok = this.count('signin.success');
    const all = ok + this.count('signin.failure') + this.count('signin.rate_limited') + this.count('mfa.failure');
    return all === 0 ? null : ok / all;
  }

  /** Of the sessions that ended, the share that ended by expiry rather than sign-out or revocation. */
  expirationRate(): number | null {
    // An idle sign-out from the browser normally arrives after the server expired the session, as a
    // `token.unknown`; counting `session.idle_signout` too would count it twice.
    const expired = this.count('session.expired') + this.count('token.unknown');
    const ended = expired + this.count('session.destroyed') + this.count('sessions.revoked.count');
    return ended === 0 ? null : expired / ended;
  }

  rotationsPerSession(): number | null {
    const created = this.count('session.created');
    return created === 0 ? null : this.count('session.rotated') / created;
  }

  async stats(): Promise<Stats> {
    const now = this.clock();
    const current = Math.floor(now / 60_000);
    const data = Object.fromEntries(SERIES_KEYS.map((k) => [k, [] as number[]])) as Record<SeriesKey, number[]>;
    for (let m = current - SERIES_MINUTES + 1; m <= current; m++) {
      const b = this.minutes.get(m);
      for (const k of SERIES_KEYS) data[k].push(b ? b[k] : 0);
    }
    const hist = [0, 0, 0, 0, 0, 0];
    for (const n of this.chains.values()) hist[Math.min(n, 5)]!++;
    let suspicious = 0;
    for (const [type, n] of this.counters) if (SUSPICIOUS.has(type)) suspicious += n;
    return {
      at: new Date(now).toISOString(),
      activeSessions: await this.activeSessions(),
      counters: Object.fromEntries(this.counters),
      signinSuccessRate: this.signinSuccessRate(),
      expirationRate: this.expirationRate(),
      rotationsPerSession: this.rotationsPerSession(),
      rotationHistogram: hist,
      cookie: {
        checks: (Object.keys(COOKIE_CHECKS) as CookieCheck[]).map((id) => ({ id, label: COOKIE_CHECKS[id], ...this.cookieChecks.get(id)! })),
        last: this.lastCookie,
        total: this.cookieTotal,
      },
      series: { start: new Date((current - SERIES_MINUTES + 1) * 60_000).toISOString(), minutes: SERIES_MINUTES, data },
      invalidTokens: this.count('token.invalid') + this.count('alert.invalid_tokens'),
      csrfBlocked: this.count('csrf.blocked'),
      suspicious,
      boundSessions: await this.boundSessions(),
      bindingViolations: this.count('session.binding_violation'),
    };
  }

  /** Flush and close the audit file. */
  close(): Promise<void> {
    this.listeners.clear();
    const a = this.audit;
    if (!a) return Promise.resolve();
    return new Promise((resolve) => a.end(resolve));
  }

  private bucket(): Record<SeriesKey, number> {
    const m = Math.floor(this.clock() / 60_000);
    let b = this.minutes.get(m);
    if (!b) {
      b = { signinOk: 0, signinFail: 0, created: 0, rotated: 0, ended: 0, blocked: 0 };
      this.minutes.set(m, b);
      for (const k of this.minutes.keys()) if (k <= m - SERIES_MINUTES) this.minutes.delete(k);
    }
    return b;
  }

  private trackChain(e: AppEvent): void {
    if (e.type === 'session.created' && e.sid) this.chains.set(e.sid, 0);
    else if (e.type === 'session.rotated' && e.newSid) {
      const n = e.sid ? (this.chains.get(e.sid) ?? 0) : 0;
      if (e.sid) this.chains.delete(e.sid);
      this.chains.set(e.newSid, n + 1);
    } else if ((e.type === 'session.destroyed' || e.type === 'session.expired') && e.sid) this.chains.delete(e.sid);
    if (this.chains.size > 20_000) this.chains.delete(this.chains.keys().next().value as string);
  }
}

function seriesKeyOf(type: string): SeriesKey | null {
  switch (type) {
    case 'signin.success':
      return 'signinOk';
    case 'signin.failure':
    case 'signin.rate_limited':
    case 'mfa.failure':
      return 'signinFail';
    case 'session.created':
      return 'created';
    case 'session.rotated':
      return 'rotated';
    case 'session.destroyed':
    case 'session.expired':
    case 'sessions.revoked':
      return 'ended';
    case 'csrf.blocked':
    case 'token.invalid':
    case 'alert.invalid_tokens':
      return 'blocked';
    default:
      return null;
  }
}
