/**
 * Events into a pino-compatible logger (`info/warn/error/debug`, `child`): one sink for every part.
 *
 * In `development` a refusal explains itself — which check failed and what to change — because the
 * person reading the log is the developer whose request was refused. In `production` a line holds
 * only the event type, its reason code, hashes and counts: the log is read by more people than the
 * code, and a refusal explained in detail is a guide for whoever is probing (SEC-41). Neither mode
 * ever logs a token, a cookie value or a secret: events do not carry them, and only allow-listed
 * fields are copied.
 *
 * @example
 * import pino from 'pino'
 * const log = loggerSink(pino(), { mode: process.env.NODE_ENV === 'production' ? 'production' : 'development' })
 * new SessionManager({ ..., onEvent: fanOut(log, metrics.onEvent) })
 */
import { auditRecord } from './record.js';
import type { EventSink, SessionwardEvent } from './events.js';

export interface LoggerLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): LoggerLike;
}

export interface LoggerSinkOptions {
  /** Default `production` unless NODE_ENV is `development` or `test`. */
  mode?: 'development' | 'production';
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** Level of each event type; unknown types log at info. */
function levelOf(e: SessionwardEvent): Level {
  switch (e.type) {
    case 'store.error':
    case 'store.memory_pressure':
    case 'refresh.reuse':
    case 'alert.invalid_tokens':
      return 'error';
    case 'token.invalid':
    case 'token.revoked':
    case 'csrf.rejected':
    case 'sealed.invalid':
    case 'sealed.revoked':
    case 'session.conflict':
    case 'session.anomaly':
    case 'store.slow':
    case 'store.eviction_policy':
      return 'warn';
    case 'anomaly.detected':
      return e.action === 'log' ? 'warn' : 'error';
    case 'session.created':
    case 'session.rotated':
    case 'token.grace':
    case 'token.reissued':
    case 'refresh.issued':
    case 'refresh.rotated':
      return 'debug';
    default:
      return 'info';
  }
}

const CSRF_HINTS: Record<string, string> = {
  'cross-site': 'the browser said Sec-Fetch-Site: cross-site on an unsafe method. If this request comes from your own front-end on another site, list its origin in `origin` (and use CORS); otherwise it is a CSRF attempt.',
  'same-site-refused': 'Sec-Fetch-Site: same-site was refused. A sibling subdomain posting here needs `allowSameSite: true`, and then every subdomain is trusted.',
  'origin-mismatch': 'the Origin (or Referer) header names a different origin than `origin` allows. Check scheme, host and port exactly: https://app.example.com is not https://www.app.example.com.',
  'origin-missing': 'an unsafe request carried neither Sec-Fetch-Site nor Origin/Referer (or Origin: null). Old clients and some privacy proxies strip them; send the CSRF token and set `token: true`, or allow the client explicitly.',
  'form-body-refused': 'a form or text/plain body was sent to an endpoint that accepts JSON only. Send application/json.',
  'token-invalid': 'the synchronizer token was missing or did not match this session. Read it with getCsrfToken(session) into the page and send it as the x-csrf-token header or the _csrf field.',
};

const HINTS: Record<string, (e: SessionwardEvent) => string | undefined> = {
  'csrf.rejected': (e) => (e.type === 'csrf.rejected' ? `CSRF refusal: ${CSRF_HINTS[e.reason] ?? e.reason}` : undefined),
  'token.invalid': () =>
    'a session cookie failed its MAC or was malformed: a forged cookie, or a key removed from `secrets` while cookies signed with it are still out (keep old keys listed after the newest until those sessions expire).',
  'token.unknown': () => 'a well-formed session cookie has no live session: it expired, was logged out, or the store was emptied.',
  'alert.invalid_tokens': () => 'one address sent many invalid session cookies; see `invalidTokenLimit`.',
  'store.error': () => 'a store call failed: requests that need the session get 503 until it recovers. Check the store is reachable and its timeouts.',
  'store.slow': () => 'a store call was slower than `slowMs`.',
  'store.memory_pressure': () => 'Redis refused a write for memory (maxmemory reached): the request got ERR_STORE_MEMORY. Give Redis more memory or run cleanup(); see docs/redis.md for sizing.',
  'store.eviction_policy': () => "Redis's maxmemory-policy can evict session keys; see docs/redis.md for the safe policies.",
  'sealed.invalid': () => 'a sealed cookie could not be opened: tampered, from another key ring, or too large.',
  'session.conflict': () => 'two requests changed the same key of one session at once; one got 409. Use session.update(fn) for read-modify-write.',
  'auth.reauth_required': () => 'requireFreshAuth refused a stale authentication: ask for the password again and call session.login(user).',
  'anomaly.detected': (e) => (e.type === 'anomaly.detected' ? `detector: ${e.signal} scored ${e.score}, action ${e.action}.` : undefined),
};

function defaultMode(): 'development' | 'production' {
  const env = typeof process !== 'undefined' ? process.env?.NODE_ENV : undefined;
  return env === 'development' || env === 'test' ? 'development' : 'production';
}

/** An event sink that writes each event to `logger` at its level. Never throws. */
export function loggerSink(logger: LoggerLike, options: LoggerSinkOptions = {}): EventSink {
  const mode = options.mode ?? defaultMode();
  const log = logger.child ? logger.child({ lib: 'sessionward' }) : logger;
  return (e) => {
    try {
      const level = levelOf(e);
      const fields = auditRecord(e as unknown as Record<string, unknown>);
      if (mode === 'production') {
        // Codes and hashes only: no addresses, user agents or explanations.
        delete fields.ip;
        delete fields.userAgent;
        log[level](fields, e.type);
        return;
      }
      const hint = HINTS[e.type]?.(e);
      log[level](fields, hint ? `${e.type}: ${hint}` : e.type);
    } catch {
      // A logger that throws must never break a request.
    }
  };
}
