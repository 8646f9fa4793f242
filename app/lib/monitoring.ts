/**
 * The app's monitoring, assembled from the library: one event stream (`fanOut`) feeding the
 * Prometheus counters (`sessionward/metrics`), the anomaly detector, the audit log
 * (`sessionward/monitor`) and the dashboard's SQLite history. The manager, the CSRF checks and the
 * app's own events (sign-ins, MFA, admin actions) all go into the same stream.
 *
 * What is the app's own: its event types, the counter of them, the MFA gauge, and the dashboard's
 * history table. Everything a library user also needs comes from the package.
 */
import * as prom from 'prom-client';
import { parseSetCookie } from 'sessionward';
import { prometheusMetrics, checkSessionCookies, type AuthOutcome, type CookieCheck } from 'sessionward/metrics';
import { createAuditLog, fanOut, Detector, type AuditLog, type EventSink, type SessionwardEvent, type Anomaly } from 'sessionward/monitor';
import type { SessionStore } from 'sessionward';
import { SecurityLog, type SqlDb } from './security-log.js';

/** An event of the app itself (not one of the library's). */
export interface AppEventInput {
  type: string;
  sid?: string;
  userId?: string | null;
  ip?: string;
  userAgent?: string;
  reason?: string;
  count?: number;
}

/** Outcome of each app event for the library's `auth_total` counter (success rate in PromQL). */
const AUTH: Readonly<Record<string, AuthOutcome>> = {
  'signin.success': 'success',
  'signin.failure': 'failure',
  'mfa.failure': 'failure',
  'reauth.failure': 'failure',
  'signin.rate_limited': 'throttled',
};

/**
 * App event types `/metrics` counts under another name. `/metrics` may be public, and sign-up
 * answers a free and a registered email alike: two counters there would tell a stranger which one
 * their sign-up hit. The feed, the dashboard and the audit log keep the exact type.
 */
const METRIC_TYPE: Readonly<Record<string, string>> = { 'account.created': 'signup.accepted', 'signup.existing_email': 'signup.accepted' };
/** Label values: the app's own closed set of types; anything else is "other" (bounded cardinality). */
const TYPE_LABEL = /^[a-z_]{1,24}\.[a-z_]{1,32}$/;

/** How long one active-session count serves /metrics (Prometheus scrapes every 15-60 s). */
const ACTIVE_SCRAPE_MS = 10_000;

export interface MonitoringOptions {
  db: SqlDb;
  store: SessionStore;
  clock: () => number;
  auditFile: string | null;
  /** Live signed-in sessions (walks the users: called at most every ACTIVE_SCRAPE_MS by scrapes). */
  activeSessions: () => Promise<number>;
  /** Keyed hash of a session id for the detector's events. */
  hashSid: (id: string) => Promise<string>;
  notify?: (a: Anomaly) => void | Promise<void>;
}

export class Monitoring {
  readonly metrics: ReturnType<typeof prometheusMetrics>;
  readonly detector: Detector;
  readonly history: SecurityLog;
  /** The one sink every part emits into (manager, CSRF, detector). */
  readonly onEvent: EventSink;
  private readonly appCounter: prom.Counter<'type'>;
  private lastCookie: string | null = null;
  private lastAttributes: { name: string; attributes: Record<string, string | true> } | null = null;
  private activeScrape: { at: number; value: Promise<number> } | null = null;
  private readonly clock: () => number;

  private constructor(
    o: MonitoringOptions,
    private readonly audit: AuditLog | null,
  ) {
    this.clock = o.clock;
    this.history = new SecurityLog(o.db, o.clock);
    const registry = new prom.Registry();
    this.metrics = prometheusMetrics(prom, { registry, activeSessions: () => this.scrapedActiveSessions(o.activeSessions) });
    this.appCounter = new prom.Counter({ name: 'app_events_total', help: "The reference app's own events (sign-in, MFA, admin) by type", labelNames: ['type'], registers: [registry] });
    // No gauge of accounts (or of accounts with MFA): /metrics may be public, and a count that
    // grows by one tells a stranger that their sign-up created an account. MFA adoption is on the
    // dashboard; enrolments are counted as app_events_total{type="mfa.enabled"}.
    // The detector emits into the same stream, so its anomalies reach the counters and the history.
    let sink: EventSink = () => undefined;
    this.detector = new Detector({ store: o.store, clock: o.clock, hashSid: o.hashSid, notify: o.notify, onEvent: (e) => sink(e) });
    sink = fanOut(this.metrics.onEvent, this.detector.onEvent, audit?.write, this.history.record);
    this.onEvent = sink;
  }

  static async open(o: MonitoringOptions): Promise<Monitoring> {
    return new Monitoring(o, o.auditFile ? await createAuditLog({ file: o.auditFile }) : null);
  }

  /** Record one of the app's own events: history, audit log, and its counters. */
  appEvent(e: AppEventInput): void {
    const event = { ...e, at: new Date(this.clock()).toISOString() };
    const outcome = AUTH[e.type];
    if (outcome) this.metrics.recordAuth(outcome);
    const type = METRIC_TYPE[e.type] ?? e.type;
    this.appCounter.inc({ type: TYPE_LABEL.test(type) ? type : 'other' });
    this.audit?.write(event);
    this.history.record(event);
  }

  /** Emit a library-shaped event (e.g. a CSRF refusal the app's router made) into the stream. */
  emit(e: SessionwardEvent): void {
    this.onEvent(e);
  }

  /** The session cookie headers a response carries: compliance counters (library checks), kept across restarts. */
  observeSetCookie(headers: string[], cookieName: string, cacheControl: string | undefined): void {
    this.metrics.observeSetCookie(headers, cookieName, cacheControl);
    const tally: Record<string, number> = {};
    for (const r of checkSessionCookies(headers, cookieName, cacheControl)) {
      for (const [check, ok] of Object.entries(r) as [CookieCheck, boolean][]) {
        const k = `cookie:${check}:${ok ? 'pass' : 'fail'}`;
        tally[k] = (tally[k] ?? 0) + 1;
      }
      tally['cookie:total'] = (tally['cookie:total'] ?? 0) + 1;
    }
    if (Object.keys(tally).length) this.history.add(tally);
    for (const h of headers) {
      const c = parseSetCookie(h);
      if (!c || c.name !== cookieName) continue;
      // SEC-4: the value never leaves this function; only its length is kept.
      this.lastCookie = `${c.name}=<redacted, ${c.value.length} chars>${h.includes(';') ? h.slice(h.indexOf(';')) : ''}`;
      if (c.attributes['max-age'] !== '0') this.lastAttributes = { name: c.name, attributes: { ...c.attributes } };
    }
  }

  /** The last session Set-Cookie, value redacted (dashboard). */
  lastCookieHeader(): string | null {
    return this.lastCookie;
  }

  /** Name and attributes (no value) of the last session cookie the app issued, or null. */
  lastIssuedCookie(): { name: string; attributes: Record<string, string | true> } | null {
    return this.lastAttributes;
  }

  /**
   * Scrapes share one count at a time and reuse it for ACTIVE_SCRAPE_MS: counting walks every
   * account, so the store's load must not grow with the scrape rate. A failed count is not kept.
   */
  private scrapedActiveSessions(count: () => Promise<number>): Promise<number> {
    const now = performance.now();
    if (this.activeScrape && now - this.activeScrape.at < ACTIVE_SCRAPE_MS) return this.activeScrape.value;
    const entry = { at: now, value: count() };
    this.activeScrape = entry;
    entry.value.catch(() => {
      if (this.activeScrape === entry) this.activeScrape = null;
    });
    return entry.value;
  }

  async close(): Promise<void> {
    this.history.close();
    await this.audit?.close();
  }
}
