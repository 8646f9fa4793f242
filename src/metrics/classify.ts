/**
 * Which metric each event moves. Pure and shared by the Prometheus and OpenTelemetry backends, so
 * both count exactly the same things. Counters only: rates and ratios are the monitoring system's
 * job (`rate()`, division in PromQL), never a "since start" figure computed here.
 */
import type { SessionwardEvent } from '../monitor/events.js';

export type CounterName =
  | 'sessions_created_total'
  | 'sessions_rotated_total'
  | 'sessions_ended_total'
  | 'tokens_invalid_total'
  | 'csrf_refusals_total'
  | 'throttled_total'
  | 'anomalies_total'
  | 'risk_signals_total'
  | 'binding_violations_total'
  | 'refresh_tokens_total'
  | 'auth_total'
  | 'store_errors_total'
  | 'store_config_warnings_total'
  | 'session_cookies_total';

export interface CounterSample {
  name: CounterName;
  labels: Record<string, string>;
  value: number;
}

/** Help text and label names of every counter (one place, both backends). */
export const COUNTERS: Readonly<Record<CounterName, { help: string; labels: readonly string[] }>> = {
  sessions_created_total: { help: 'Server-side sessions created', labels: [] },
  sessions_rotated_total: { help: 'Session tokens rotated (login, privilege change, renewal)', labels: [] },
  sessions_ended_total: { help: 'Sessions ended, by reason (logout, revoked, revoked_all, expired)', labels: ['reason'] },
  tokens_invalid_total: { help: 'Presented tokens refused, by reason', labels: ['reason'] },
  csrf_refusals_total: { help: 'Requests refused by CSRF checks, by reason', labels: ['reason'] },
  throttled_total: { help: 'Sources throttled or alerted for sending invalid tokens, by action', labels: ['action'] },
  anomalies_total: { help: 'Anomalies the detector scored, by signal and the action taken', labels: ['signal', 'action'] },
  risk_signals_total: { help: 'Risk signals seen on live sessions (a new network or browser): inputs to detection, not decisions', labels: ['signal'] },
  binding_violations_total: { help: 'Device-binding violations (a bound credential used without its proof)', labels: [] },
  refresh_tokens_total: { help: 'Refresh-token outcomes (issued, rotated, race, reuse, revoked)', labels: ['outcome'] },
  auth_total: { help: 'Authentication outcomes (success, failure, throttled, reauth_required)', labels: ['outcome'] },
  store_errors_total: { help: 'Store calls that failed, by store, operation and error code', labels: ['store', 'op', 'code'] },
  store_config_warnings_total: { help: 'Store configuration checks that found a risk (e.g. a Redis eviction policy), by risk and whether the store refused', labels: ['store', 'risk', 'refused'] },
  session_cookies_total: { help: 'Session Set-Cookie headers checked, by attribute check and result', labels: ['check', 'result'] },
};

// Label values come from a closed set where they can; anything else collapses to "other" so a
// hostile input can never create unbounded label cardinality in the monitoring system.
const REASON = /^[A-Za-z0-9_.-]{1,40}$/;
const label = (v: unknown): string => (typeof v === 'string' && REASON.test(v) ? v : 'other');

/** Counter samples an event contributes (usually one, none for purely informational events). */
export function classify(e: SessionwardEvent): CounterSample[] {
  const one = (name: CounterName, labels: Record<string, string> = {}, value = 1): CounterSample[] => [{ name, labels, value }];
  switch (e.type) {
    case 'session.created':
      return one('sessions_created_total');
    case 'session.rotated':
      return one('sessions_rotated_total');
    case 'session.destroyed':
      return one('sessions_ended_total', { reason: e.reason === 'revoked_by_user' ? 'revoked' : 'logout' });
    case 'sessions.revoked':
      return (e.count ?? 0) > 0 ? one('sessions_ended_total', { reason: 'revoked_all' }, e.count ?? 0) : [];
    case 'session.expired':
    case 'sealed.expired':
      return one('sessions_ended_total', { reason: 'expired' });
    case 'token.invalid':
      // The manager's variant carries a reason; the JWT verifier's carries a token hash.
      return one('tokens_invalid_total', { reason: 'reason' in e ? label(e.reason) : 'jwt' });
    case 'token.unknown':
      return one('tokens_invalid_total', { reason: 'unknown' });
    case 'token.revoked':
    case 'sealed.revoked':
      return one('tokens_invalid_total', { reason: 'revoked' });
    case 'sealed.invalid':
      return one('tokens_invalid_total', { reason: `sealed_${label(e.reason)}` });
    case 'csrf.rejected':
      return one('csrf_refusals_total', { reason: label(e.reason) });
    case 'alert.invalid_tokens':
      return one('throttled_total', { action: label(e.reason) });
    case 'session.anomaly':
      // The manager's raw signal. A Detector, if there is one, reports its decision on the same
      // request as anomaly.detected: counting both in one family would count every anomaly twice.
      return one('risk_signals_total', { signal: label(e.reason) });
    case 'refresh.issued':
    case 'refresh.rotated':
    case 'refresh.race':
    case 'refresh.reuse':
    case 'refresh.revoked':
      return one('refresh_tokens_total', { outcome: e.type.slice('refresh.'.length) });
    case 'anomaly.detected':
      return e.signal.split('+').map((signal) => ({ name: 'anomalies_total' as const, labels: { signal: label(signal), action: label(e.action) }, value: 1 }));
    case 'auth.reauth_required':
      return one('auth_total', { outcome: 'reauth_required' });
    case 'store.memory_pressure':
      return one('store_errors_total', { store: e.store, op: label(e.command.toLowerCase()), code: 'ERR_STORE_MEMORY' });
    case 'store.eviction_policy':
      return one('store_config_warnings_total', { store: e.store, risk: label(e.risk), refused: String(e.refused) });
    case 'store.error':
      return one('store_errors_total', { store: label(e.store), op: label(e.op), code: label(e.code) });
    default:
      // Device binding (DBSC) lands its event type separately; counted by name until then.
      return (e as { type: string }).type === 'session.binding_violation' ? one('binding_violations_total') : [];
  }
}
