/**
 * Wrap a store so every call is timed, failures and slow calls become events, and APM tools can
 * trace them through `node:diagnostics_channel` (channel `sessionward:store`, a tracing channel:
 * `tracing:sessionward:store:start` / `asyncEnd` / `error`, message `{ store, op }`).
 *
 * The wrapper adds no store semantics: every method forwards its arguments untouched and returns
 * (or throws) exactly what the store did, so the conformance suite passes through it unchanged.
 */
import diagnostics from 'node:diagnostics_channel';
import { isSessionwardError } from '../errors.js';
import type { SessionStore } from '../stores/types.js';
import type { EventSink } from '../monitor/events.js';
import type { SessionMetrics } from './index.js';

export const STORE_CHANNEL = 'sessionward:store';
const channel = diagnostics.tracingChannel<{ store: string; op: string }>(STORE_CHANNEL);

export interface InstrumentStoreOptions {
  metrics?: Pick<SessionMetrics, 'observeStoreCall' | 'storeObserver'>;
  /** Receives `store.error` and `store.slow` events. */
  onEvent?: EventSink;
  /** A call slower than this, ms, emits `store.slow` (default 250). */
  slowMs?: number;
}

const METHODS = ['get', 'create', 'update', 'patch', 'touch', 'delete', 'listByUser', 'deleteByUser', 'cleanup'] as const;

export function instrumentStore<S extends SessionStore>(store: S, options: InstrumentStoreOptions = {}): S {
  const slowMs = options.slowMs ?? 250;
  const name = store.name;
  const metrics = options.metrics;
  const onEvent = options.onEvent;
  // Each timed method resolves its recorder once (labels are fixed per method).
  const observerOf = (op: string): ((seconds: number) => void) | undefined =>
    !metrics ? undefined : metrics.storeObserver ? metrics.storeObserver(name, op) : (s) => metrics.observeStoreCall(name, op, s);
  const report = (op: string, observe: ((seconds: number) => void) | undefined, t0: number, error: unknown): void => {
    const ms = performance.now() - t0;
    observe?.(ms / 1000);
    if (!onEvent || (error === undefined && ms < slowMs)) return;
    const at = new Date().toISOString();
    const rounded = Math.round(ms * 1000) / 1000;
    try {
      if (error !== undefined) onEvent({ type: 'store.error', at, store: name, op, code: isSessionwardError(error) ? error.code : 'ERR_UNKNOWN', ms: rounded });
      else onEvent({ type: 'store.slow', at, store: name, op, ms: rounded });
    } catch {
      // A failing sink never changes what the store returned.
    }
  };
  // A plain object, built once: a Proxy (or a bind per property read) costs on every call of the
  // hot path. Methods not timed here are bound once so a store's private fields keep working.
  const out: Record<string | symbol, unknown> = {};
  const seen = new Set<string | symbol>();
  for (let o: object | null = store; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Reflect.ownKeys(o)) {
      if (key === 'constructor' || seen.has(key)) continue;
      seen.add(key);
      const desc = Object.getOwnPropertyDescriptor(o, key)!;
      if (typeof desc.value === 'function') out[key] = (desc.value as (...a: unknown[]) => unknown).bind(store);
      else Object.defineProperty(out, key, { get: () => (store as Record<string | symbol, unknown>)[key], enumerable: true });
    }
  }
  for (const op of METHODS) {
    const fn = (store as unknown as Record<string, unknown>)[op];
    if (typeof fn !== 'function') continue;
    const call = fn as (...a: unknown[]) => Promise<unknown>;
    const observe = observerOf(op);
    out[op] = async function timed(...args: unknown[]): Promise<unknown> {
      const t0 = performance.now();
      try {
        const v = channel.hasSubscribers ? await channel.tracePromise(() => call.apply(store, args), { store: name, op }) : await call.apply(store, args);
        report(op, observe, t0, undefined);
        return v;
      } catch (e) {
        report(op, observe, t0, e);
        throw e;
      }
    };
  }
  return out as unknown as S;
}
