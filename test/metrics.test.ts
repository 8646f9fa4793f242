import { describe, it, expect } from 'vitest';
import * as prom from 'prom-client';
import { MeterProvider, MetricReader, AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import diagnostics from 'node:diagnostics_channel';
import { createClient } from 'redis';
import { prometheusMetrics, openTelemetryMetrics, instrumentStore, STORE_CHANNEL, classify } from '../src/metrics/index.js';
import { fanOut, type SessionwardEvent } from '../src/monitor/events.js';
import { MemoryStore, SessionManager, StoreUnavailableError } from '../src/index.js';
import { RedisStore } from '../src/stores/redis.js';
import { testSessionStore } from '../src/testing/conformance.js';
import { FakeClock, SECRET, nextCookie } from './helpers/core.js';

/** One line of the exposition text: `name{labels} value`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const re = new RegExp(`^${name}${labels ? `\\{${labels.replace(/[{}]/g, '')}\\}` : ''} (\\S+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

async function lifecycle(manager: SessionManager<Record<string, unknown>>) {
  const s = await manager.load({ ip: '198.51.100.7' });
  await s.login('alice');
  const c = nextCookie((await manager.commit(s)).headers);
  const s2 = await manager.load({ cookie: c });
  await s2.rotate();
  const c2 = nextCookie((await manager.commit(s2)).headers, c);
  await manager.load({ cookie: '__Host-sid=forged.value' });
  const s3 = await manager.load({ cookie: c2 });
  await s3.destroy();
  await manager.commit(s3);
}

describe('sessionward/metrics', () => {
  it('Prometheus: lifecycle events become counters a PromQL rate() can use, with store latency', async () => {
    const clock = new FakeClock();
    const metrics = prometheusMetrics(prom, { activeSessions: () => 7 });
    const store = instrumentStore(new MemoryStore({ clock: clock.now }), { metrics });
    const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET], clock: clock.now, onEvent: metrics.onEvent });
    await lifecycle(manager);
    metrics.recordAuth('success');
    metrics.recordAuth('failure');
    const text = await metrics.text();
    expect(sample(text, 'sessionward_sessions_rotated_total')).toBe(2); // login + rotate
    expect(sample(text, 'sessionward_sessions_ended_total', 'reason="logout"')).toBe(1);
    expect(text).toMatch(/^sessionward_tokens_invalid_total\{reason="[a-z_]+"\} 1$/m);
    expect(sample(text, 'sessionward_auth_total', 'outcome="success"')).toBe(1);
    expect(sample(text, 'sessionward_auth_total', 'outcome="failure"')).toBe(1);
    expect(sample(text, 'sessionward_active_sessions')).toBe(7);
    // Every store call of the lifecycle was timed: the histogram count of `get` is positive.
    expect(sample(text, 'sessionward_store_operation_duration_seconds_count', 'store="memory",op="get"')).toBeGreaterThan(0);
    // Counters, never "since start" ratios.
    expect(text).not.toMatch(/_ratio\b/);
  });

  it('Prometheus: label values from hostile input collapse to "other" (bounded cardinality)', async () => {
    const metrics = prometheusMetrics(prom);
    for (let i = 0; i < 50; i++) {
      metrics.onEvent({ type: 'csrf.rejected', at: new Date().toISOString(), reason: `x${i}<script>\n` as never, method: 'POST' });
    }
    const text = await metrics.text();
    expect(sample(text, 'sessionward_csrf_refusals_total', 'reason="other"')).toBe(50);
    expect(text.match(/^sessionward_csrf_refusals_total\{/gm)).toHaveLength(1);
  });

  it('cookie security compliance: each attribute check is counted pass or fail', async () => {
    const metrics = prometheusMetrics(prom);
    metrics.observeSetCookie(['__Host-sid=v; Path=/; Secure; HttpOnly; SameSite=Lax', 'other=1'], '__Host-sid', 'no-store');
    metrics.observeSetCookie(['__Host-sid=v; Path=/; SameSite=None; Max-Age=99999'], '__Host-sid', 'public');
    const text = await metrics.text();
    expect(sample(text, 'sessionward_session_cookies_total', 'check="httpOnly",result="pass"')).toBe(1);
    expect(sample(text, 'sessionward_session_cookies_total', 'check="httpOnly",result="fail"')).toBe(1);
    expect(sample(text, 'sessionward_session_cookies_total', 'check="nonPersistent",result="fail"')).toBe(1);
    expect(sample(text, 'sessionward_session_cookies_total', 'check="noStore",result="fail"')).toBe(1);
    expect(sample(text, 'sessionward_session_cookies_total', 'check="secure",result="pass"')).toBe(1);
  });

  it('OpenTelemetry: the same counters through a real MeterProvider', async () => {
    class Reader extends MetricReader {
      constructor() {
        super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
      }
      protected override async onShutdown() {}
      protected override async onForceFlush() {}
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const clock = new FakeClock();
    const metrics = openTelemetryMetrics(provider.getMeter('sessionward'), { activeSessions: () => 3 });
    const store = instrumentStore(new MemoryStore({ clock: clock.now }), { metrics });
    const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET], clock: clock.now, onEvent: metrics.onEvent });
    await lifecycle(manager);
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const byName = new Map(all.map((m) => [m.descriptor.name, m]));
    const rotated = byName.get('sessionward.sessions.rotated')!;
    expect(rotated.dataPointType).toBe(DataPointType.SUM);
    expect(rotated.dataPoints[0]!.value).toBe(2);
    const ended = byName.get('sessionward.sessions.ended')!;
    expect(ended.dataPoints.find((p) => p.attributes.reason === 'logout')?.value).toBe(1);
    expect(byName.get('sessionward.active_sessions')!.dataPoints[0]!.value).toBe(3);
    const latency = byName.get('sessionward.store.operation.duration')!;
    expect(latency.dataPoints.some((p) => p.attributes.op === 'get')).toBe(true);
    await provider.shutdown();
  });

  it('instrumentStore: a store that is down emits store.error with the typed code, and APM sees the call', async () => {
    const client = createClient({ url: 'redis://127.0.0.1:1', socket: { reconnectStrategy: false, connectTimeout: 200 } });
    client.on('error', () => undefined);
    const events: SessionwardEvent[] = [];
    const metrics = prometheusMetrics(prom);
    const redis = new RedisStore({ client: client as never, prefix: 'sw:metrics-test:', commandTimeoutMs: 200 });
    const store = instrumentStore(redis, { metrics, onEvent: fanOut((e) => events.push(e), metrics.onEvent) });
    const traced: string[] = [];
    const onStart = (m: unknown) => traced.push((m as { op: string }).op);
    diagnostics.subscribe(`tracing:${STORE_CHANNEL}:start`, onStart);
    try {
      await expect(store.get('x'.repeat(43), Date.now())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      diagnostics.unsubscribe(`tracing:${STORE_CHANNEL}:start`, onStart);
      await client.quit().catch(() => undefined);
    }
    expect(traced).toEqual(['get']);
    const err = events.find((e) => e.type === 'store.error');
    expect(err).toMatchObject({ type: 'store.error', store: 'redis', op: 'get', code: 'ERR_STORE_UNAVAILABLE' });
    expect(sample(await metrics.text(), 'sessionward_store_errors_total', 'store="redis",op="get",code="ERR_STORE_UNAVAILABLE"')).toBe(1);
  });

  it('instrumentStore: slow calls emit store.slow; a throwing sink changes nothing', async () => {
    const inner = new MemoryStore();
    const events: SessionwardEvent[] = [];
    const store = instrumentStore(inner, { slowMs: 0, onEvent: fanOut(() => { throw new Error('sink'); }, (e) => events.push(e)) });
    expect(await store.get('y'.repeat(43), Date.now())).toBeNull();
    expect(events[0]).toMatchObject({ type: 'store.slow', store: 'memory', op: 'get' });
    expect(store.name).toBe('memory');
  });

  it('classify: every counted event maps to a declared counter', () => {
    const at = new Date().toISOString();
    expect(classify({ type: 'sessions.revoked', at, count: 3 })).toEqual([{ name: 'sessions_ended_total', labels: { reason: 'revoked_all' }, value: 3 }]);
    expect(classify({ type: 'refresh.reuse', at, familyHash: 'f', tokenHash: 't' })[0]).toMatchObject({ name: 'refresh_tokens_total', labels: { outcome: 'reuse' } });
    expect(classify({ type: 'session.binding_violation', at } as never)[0]!.name).toBe('binding_violations_total');
    expect(classify({ type: 'token.grace', at })).toEqual([]);
    expect(classify({ type: 'store.memory_pressure', at, store: 'redis', command: 'EVALSHA' })[0]).toMatchObject({ name: 'store_errors_total', labels: { code: 'ERR_STORE_MEMORY' } });
    expect(classify({ type: 'store.eviction_policy', at, store: 'redis', node: 'standalone', policy: 'allkeys-lru', maxmemory: 1, risk: 'revocation', refused: true })[0]).toMatchObject({ name: 'store_config_warnings_total', labels: { risk: 'revocation', refused: 'true' } });
  });

  it('an anomaly the Detector scores is counted once: the manager\'s raw signal goes to risk_signals_total', async () => {
    const m = prometheusMetrics(prom);
    const at = new Date().toISOString();
    // One request with a new browser: the manager's signal, then the detector's decision on it.
    m.onEvent({ type: 'session.anomaly', at, reason: 'ua_change' } as never);
    m.onEvent({ type: 'anomaly.detected', at, signal: 'ua_change', action: 'log', score: 1, userId: 'u' } as never);
    const text = await m.text();
    expect(text).toMatch(/^sessionward_anomalies_total\{signal="ua_change",action="log"\} 1$/m);
    expect(text).toMatch(/^sessionward_risk_signals_total\{signal="ua_change"\} 1$/m);
  });
});

// The wrapper adds nothing to store semantics: the conformance suite passes through it.
testSessionStore('memory through instrumentStore', () => ({ store: instrumentStore(new MemoryStore(), { metrics: prometheusMetrics(prom) }) }));
