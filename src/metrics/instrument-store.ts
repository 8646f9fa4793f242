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
  metrics?: Pick<SessionMetrics, 'observeStoreCall'>;
  /** Receives `store.error` and `store.slow` events. */
  onEvent?: EventSink;
  /** A call slower than this, ms, emits `store.slow` (default 250). */
  slowMs?: number;
}

const METHODS = ['get', 'create', 'update', 'touch', 'delete', 'listByUser', 'deleteByUser', 'cleanup'] as const;

export function instrumentStore<S extends SessionStore>(store: S, options: InstrumentStoreOptions = {}): S {
  const slowMs = options.slowMs ?? 250;
  const name = store.name;
  const wrapped: Record<string, unknown> = {};
  for (const op of METHODS) {
    const fn = (store as unknown as Record<string, unknown>)[op];
    if (typeof fn !== 'function') continue;
    const call = fn as (...a: unknown[]) => Promise<unknown>;
    wrapped[op] = function (...args: unknown[]): Promise<unknown> {
      const t0 = performance.now();
      const done = (error: unknown) => {
        const ms = performance.now() - t0;
        options.metrics?.observeStoreCall(name, op, ms / 1000);
        if (!options.onEvent) return;
        const at = new Date().toISOString();
        const rounded = Math.round(ms * 1000) / 1000;
        try {
          if (error !== undefined) {
            options.onEvent({ type: 'store.error', at, store: name, op, code: isSessionwardError(error) ? error.code : 'ERR_UNKNOWN', ms: rounded });
          } else if (ms >= slowMs) options.onEvent({ type: 'store.slow', at, store: name, op, ms: rounded });
        } catch {
          // A failing sink never changes what the store returned.
        }
      };
      const run = () => call.apply(store, args);
      const p = channel.hasSubscribers ? channel.tracePromise(run, { store: name, op }) : run();
      return p.then(
        (v) => {
          done(undefined);
          return v;
        },
        (e: unknown) => {
          done(e);
          throw e;
        },
      );
    };
  }
  // Everything else (name, close, a store's own extras) reaches the store itself, bound to it so
  // private fields keep working.
  return new Proxy(store, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.prototype.hasOwnProperty.call(wrapped, prop)) return wrapped[prop];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
