/**
 * @internal Session events for audit logs (SEC-40). Events never carry a store id: `sid` is a keyed
 * hash of it (SEC-41), so logs can correlate one session's events without holding anything that
 * reaches the session.
 */
import type { SessionCrypto } from '../crypto/types.js';
import type { SessionEvent, SessionEventType } from './events.js';

export class AuditTrail {
  readonly #crypto: SessionCrypto;
  readonly #key: Uint8Array;
  readonly #sink: ((e: SessionEvent) => void) | undefined;
  readonly #clock: () => number;
  readonly #seen = new Set<string>();

  /**
   * `key` is the first session secret; with no key ring pass nothing and the key lives only in
   * this process (hashes then differ between instances and restarts, which is the price of no key).
   */
  constructor(crypto: SessionCrypto, clock: () => number, sink: ((e: SessionEvent) => void) | undefined, key?: Uint8Array) {
    this.#crypto = crypto;
    this.#clock = clock;
    this.#sink = sink;
    this.#key = key ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  }

  /** True when anyone listens: callers skip building events (and hashing ids) otherwise. */
  get enabled(): boolean {
    return this.#sink !== undefined;
  }

  /**
   * True the first time `key` is seen by this process: events that would repeat on every request
   * (a session's new network) are reported once. FIFO-bounded, so a flood cannot grow it.
   */
  firstTime(key: string): boolean {
    if (this.#seen.has(key)) return false;
    if (this.#seen.size >= 10_000) this.#seen.delete(this.#seen.values().next().value as string);
    this.#seen.add(key);
    return true;
  }

  /** Keyed hash of a store id for events and logs (SEC-41). */
  async sid(id: string): Promise<string> {
    return (await this.#crypto.hmac(this.#key, `sid:${id}`)).slice(0, 22);
  }

  /** Emit one event about store id `id` (hashed); undefined fields are left out. */
  async emit(type: SessionEventType, id: string | null, extra: Partial<SessionEvent>): Promise<void> {
    if (!this.#sink) return;
    const e: SessionEvent = { type, at: new Date(this.#clock()).toISOString(), ...extra };
    if (id) e.sid = await this.sid(id);
    for (const k of Object.keys(e) as (keyof SessionEvent)[]) if (e[k] === undefined) delete e[k];
    try {
      this.#sink(e);
    } catch {
      // A failing event sink must never break a request.
    }
  }
}
