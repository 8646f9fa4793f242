/**
 * `sessionward/metrics`: session metrics for Prometheus (prom-client) and OpenTelemetry, from the
 * one event stream. Both backends count the same things (see `classify`); neither is imported
 * here: you pass in the prom-client module or an OpenTelemetry `Meter`, so an application that uses
 * one never loads the other.
 *
 * PromQL for the five session health figures (docs/monitoring.md explains each):
 * - expiration rate:      sum(rate(sessionward_sessions_ended_total{reason="expired"}[5m])) / sum(rate(sessionward_sessions_ended_total[5m]))
 * - hijacking incidents:  sum(increase(sessionward_refresh_tokens_total{outcome="reuse"}[1h])) + sum(increase(sessionward_binding_violations_total[1h])) + sum(increase(sessionward_anomalies_total{action!="log"}[1h]))
 * - cookie compliance:    sum(rate(sessionward_session_cookies_total{result="pass"}[1h])) / sum(rate(sessionward_session_cookies_total[1h]))
 * - auth success rate:    sum(rate(sessionward_auth_total{outcome="success"}[5m])) / sum(rate(sessionward_auth_total{outcome=~"success|failure|throttled"}[5m]))
 * - rotation frequency:   sum(rate(sessionward_sessions_rotated_total[1h])) / sum(rate(sessionward_sessions_created_total[1h]))
 *
 * @example
 * import * as prom from 'prom-client'
 * import { prometheusMetrics } from 'sessionward/metrics'
 * const metrics = prometheusMetrics(prom, { activeSessions: () => countLive() })
 * const manager = new SessionManager({ ..., store: instrumentStore(store, { metrics }), onEvent: metrics.onEvent })
 * app.get('/metrics', async (_req, res) => res.type(metrics.contentType).send(await metrics.text()))
 */
import type { EventSink, SessionwardEvent } from '../monitor/events.js';
import { classify, COUNTERS, type CounterName, type CounterSample } from './classify.js';
import { checkCookie, checkSessionCookies, COOKIE_CHECKS, type CookieCheck } from './cookie-checks.js';

export { classify, COUNTERS, checkCookie, checkSessionCookies, COOKIE_CHECKS };
export type { CounterName, CounterSample, CookieCheck };

/** Buckets of the store latency histogram, seconds: loopback calls take well under 1 ms. */
export const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export type AuthOutcome = 'success' | 'failure' | 'throttled' | 'reauth_required';

/** What every metrics backend offers; `instrumentStore` and the adapters talk to this. */
export interface SessionMetrics {
  /** Event sink: pass as `onEvent` of the manager, the CSRF guard and the stateless modules. */
  readonly onEvent: EventSink;
  /** Count an authentication attempt's outcome (sign-in is the application's, not the library's). */
  recordAuth(outcome: AuthOutcome): void;
  /** Check the session Set-Cookie headers of a response (cookie security compliance). */
  observeSetCookie(setCookies: readonly string[], cookieName: string, cacheControl?: string): void;
  /** Record one store call; `instrumentStore` calls this for you. */
  observeStoreCall(store: string, op: string, seconds: number): void;
}

interface Backend {
  add(name: CounterName, labels: Record<string, string>, value: number): void;
  observe(store: string, op: string, seconds: number): void;
}

function build(backend: Backend): SessionMetrics {
  const count = (s: CounterSample) => backend.add(s.name, s.labels, s.value);
  return {
    onEvent: (e: SessionwardEvent) => {
      for (const s of classify(e)) count(s);
    },
    recordAuth: (outcome) => backend.add('auth_total', { outcome }, 1),
    observeSetCookie: (setCookies, cookieName, cacheControl) => {
      for (const r of checkSessionCookies(setCookies, cookieName, cacheControl)) {
        for (const check of Object.keys(r) as CookieCheck[]) {
          backend.add('session_cookies_total', { check, result: r[check] ? 'pass' : 'fail' }, 1);
        }
      }
    },
    observeStoreCall: (store, op, seconds) => backend.observe(store, op, seconds),
  };
}

/** The parts of prom-client this module uses (its real types fit). */
export interface PromClientLike {
  Registry: new () => PromRegistryLike;
  Counter: new (c: { name: string; help: string; labelNames: readonly string[]; registers: any[] }) => {
    inc(labels: Record<string, string>, value: number): void;
  };
  Histogram: new (c: { name: string; help: string; labelNames: readonly string[]; buckets: number[]; registers: any[] }) => {
    observe(labels: Record<string, string>, value: number): void;
    labels(labels: Record<string, string>): { observe(value: number): void };
  };
  Gauge: new (c: { name: string; help: string; registers: any[]; collect?: () => void | Promise<void> }) => { set(v: number): void };
}
export interface PromRegistryLike {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface PrometheusMetricsOptions {
  /** Registry to register into (default: a new one, so two instances never clash). */
  registry?: PromRegistryLike;
  /** Metric name prefix (default `sessionward_`). */
  prefix?: string;
  /** Live session count for the `active_sessions` gauge, read at scrape time (cheap store count). */
  activeSessions?: () => Promise<number> | number;
}

/** Prometheus metrics on the prom-client module you pass in. */
export function prometheusMetrics(
  prom: PromClientLike,
  options: PrometheusMetricsOptions = {},
): SessionMetrics & { registry: PromRegistryLike; text(): Promise<string>; contentType: string } {
  const registry = options.registry ?? new prom.Registry();
  const prefix = options.prefix ?? 'sessionward_';
  const registers = [registry];
  const counters = new Map<CounterName, { inc(labels: Record<string, string>, value: number): void }>();
  for (const [name, def] of Object.entries(COUNTERS) as [CounterName, (typeof COUNTERS)[CounterName]][]) {
    counters.set(name, new prom.Counter({ name: prefix + name, help: def.help, labelNames: def.labels, registers }));
  }
  const latency = new prom.Histogram({
    name: `${prefix}store_operation_duration_seconds`,
    help: 'Store call latency by store and operation',
    labelNames: ['store', 'op'],
    buckets: STORE_BUCKETS,
    registers,
  });
  const active = options.activeSessions;
  if (active) {
    new prom.Gauge({
      name: `${prefix}active_sessions`,
      help: 'Live sessions, read from the store at scrape time',
      registers,
      async collect(this: { set(v: number): void }) {
        try {
          this.set(await active());
        } catch {
          // A store that is down must not break the scrape; the store error counter says why.
        }
      },
    });
  }
  // One labelled child per (store, op), looked up by a string key: prom-client hashes a label
  // object on every observe(), which is most of the cost of timing a store call.
  const children = new Map<string, { observe(v: number): void }>();
  const m = build({
    add: (name, labels, value) => counters.get(name)!.inc(labels, value),
    observe: (store, op, seconds) => {
      const k = `${store}\u0000${op}`;
      let c = children.get(k);
      if (!c) children.set(k, (c = latency.labels({ store, op })));
      c.observe(seconds);
    },
  });
  return { ...m, registry, contentType: registry.contentType, text: () => registry.metrics() };
}

/** The parts of `@opentelemetry/api`'s `Meter` this module uses. */
export interface OtelMeterLike {
  createCounter(name: string, options?: { description?: string; unit?: string }): { add(value: number, attributes?: Record<string, string>): void };
  createHistogram(name: string, options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } }): {
    record(value: number, attributes?: Record<string, string>): void;
  };
  createObservableGauge?(name: string, options?: { description?: string }): {
    addCallback(cb: (result: { observe(value: number): void }) => void | Promise<void>): void;
  };
}

/**
 * The same metrics through the OpenTelemetry metrics API (`metrics.getMeter('sessionward')`).
 * Names follow OTel's convention: dots, no `_total` suffix (`sessionward.sessions.created`).
 */
export function openTelemetryMetrics(meter: OtelMeterLike, options: { activeSessions?: () => Promise<number> | number } = {}): SessionMetrics {
  const counters = new Map<CounterName, { add(value: number, attributes?: Record<string, string>): void }>();
  for (const [name, def] of Object.entries(COUNTERS) as [CounterName, (typeof COUNTERS)[CounterName]][]) {
    counters.set(name, meter.createCounter(`sessionward.${name.replace(/_total$/, '').replace(/_/g, '.')}`, { description: def.help }));
  }
  const latency = meter.createHistogram('sessionward.store.operation.duration', {
    description: 'Store call latency by store and operation',
    unit: 's',
    advice: { explicitBucketBoundaries: STORE_BUCKETS },
  });
  const active = options.activeSessions;
  if (active && meter.createObservableGauge) {
    meter.createObservableGauge('sessionward.active_sessions', { description: 'Live sessions' }).addCallback(async (r) => {
      try {
        r.observe(await active());
      } catch {
        // See prometheusMetrics.
      }
    });
  }
  return build({
    add: (name, labels, value) => counters.get(name)!.add(value, labels),
    observe: (store, op, seconds) => latency.record(seconds, { store, op }),
  });
}

export { instrumentStore, STORE_CHANNEL } from './instrument-store.js';
export type { InstrumentStoreOptions } from './instrument-store.js';
