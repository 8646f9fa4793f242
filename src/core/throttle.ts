/**
 * @internal SEC-42: forged tokens (cookies that fail our MAC) counted per source in a bounded,
 * in-process map. Pure bookkeeping: the manager turns a verdict into events and a 429.
 *
 * A source we cannot tell apart (no IP from the adapter, or every client behind one proxy) is
 * never counted: one shared bucket would let a single attacker lock everybody out.
 */
export interface ThrottleLimit {
  max: number;
  windowMs: number;
  action: 'alert' | 'throttle';
}

/** What one more forged token from a source means. */
export interface ThrottleVerdict {
  /** Forged tokens from this source in the current window. */
  count: number;
  /** True once per window: the first time the source went over the limit (alert then). */
  alert: boolean;
  /** Seconds until the window ends (for Retry-After), when the request must be refused; else null. */
  retryAfter: number | null;
}

const MAX_SOURCES = 10_000;

export class InvalidTokenThrottle {
  readonly #limit: ThrottleLimit;
  readonly #bySource = new Map<string, { count: number; since: number; alerted: boolean }>();

  constructor(limit: ThrottleLimit) {
    this.#limit = limit;
  }

  /** Count one forged token from `source` at `now`; null while the source is within its limit. */
  hit(source: string, now: number): ThrottleVerdict | null {
    const lim = this.#limit;
    let e = this.#bySource.get(source);
    if (!e || now - e.since > lim.windowMs) {
      // FIFO-bounded: a flood of sources evicts the oldest, it cannot grow the map.
      if (this.#bySource.size >= MAX_SOURCES) this.#bySource.delete(this.#bySource.keys().next().value as string);
      e = { count: 0, since: now, alerted: false };
      this.#bySource.set(source, e);
    }
    e.count++;
    if (e.count <= lim.max) return null;
    const alert = !e.alerted;
    e.alerted = true;
    const retryAfter = lim.action === 'throttle' ? Math.max(1, Math.ceil((e.since + lim.windowMs - now) / 1000)) : null;
    return { count: e.count, alert, retryAfter };
  }
}
