/**
 * One type for every event sessionward emits, whichever part emitted it: the session manager,
 * the stateless modules (sealed cookies, JWT, refresh, revocation), the CSRF guards and the
 * monitoring layer itself. Discriminated on `type`; every variant carries an ISO-8601 UTC `at`
 * and only keyed hashes of ids, never a token (SEC-40, SEC-41).
 *
 * Sinks written against this union (metrics, the audit log, a logger bridge) accept the events
 * of every part, so an application wires one function into each part's `onEvent`.
 *
 * @example
 * const sink = fanOut(metrics.onEvent, audit.write)
 * new SessionManager({ ..., onEvent: sink }); createCsrfGuard({ ..., onEvent: sink })
 */
import type { SessionEvent } from '../core/events.js';
import type { StatelessEvent } from '../stateless/events.js';
import type { CsrfEvent } from '../csrf/index.js';
import type { RedisStoreEvent } from '../stores/redis.js';

/** Events of the monitoring layer: store health and timing. */
export type MonitorEvent =
  | { type: 'store.error'; at: string; store: string; op: string; code: string; ms: number }
  | { type: 'store.slow'; at: string; store: string; op: string; ms: number }
  | {
      type: 'anomaly.detected';
      at: string;
      /** Signals of the decision, joined by `+` (e.g. `ip_change+ua_change`). */
      signal: string;
      action: string;
      score: number;
      userId: string | null;
      sid?: string;
      ip?: string;
    };

export type SessionwardEvent = SessionEvent | StatelessEvent | CsrfEvent | RedisStoreEvent | MonitorEvent;

export type EventSink = (event: SessionwardEvent) => void;

/**
 * Deliver each event to every sink. A sink that throws never stops the others, and never reaches
 * the request that caused the event: monitoring must not become a way to break sessions.
 */
export function fanOut(...sinks: ReadonlyArray<EventSink | undefined | null>): EventSink {
  const live = sinks.filter((s): s is EventSink => typeof s === 'function');
  return (event) => {
    for (const s of live) {
      try {
        s(event);
      } catch {
        // Swallowed on purpose: see above.
      }
    }
  };
}
