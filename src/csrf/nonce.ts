/**
 * One-time nonces for sensitive actions (money transfer, e-mail change): a nonce is issued with
 * the form, works exactly once, for one named action, within a time window. Issue and consume are
 * compare-and-set updates of the session record (`session.update`), so two concurrent submissions
 * of the same nonce cannot both succeed, even on different servers sharing the store.
 */
import type { Session } from '../core/session.js';
import { ConfigError } from '../errors.js';
import { ReplayError } from './errors.js';
import { randomBytes, toBase64Url } from './util.js';

/** Reserved session-data key: `{ [nonce]: [action, expiresAtMs] }`. */
export const NONCE_KEY = '__sw_nonce';

export interface NonceOptions {
  /** Validity window in ms. Default 10 minutes. */
  ttlMs?: number;
  /** At most this many outstanding nonces per session; the oldest are dropped. Default 32. */
  max?: number;
  /** Clock in ms; inject a fake one in tests. */
  clock?: () => number;
}

type NonceMap = Record<string, [string, number]>;

function table(d: Record<string, unknown>): NonceMap {
  const t = d[NONCE_KEY];
  return t && typeof t === 'object' && !Array.isArray(t) ? (t as NonceMap) : {};
}

/**
 * Issue a nonce for `action`. Persisted atomically with the session.
 *
 * @example
 * const nonce = await issueNonce(session, 'transfer')
 * html`<input type="hidden" name="nonce" value="${nonce}">`
 */
export async function issueNonce(session: Session<any>, action: string, options: NonceOptions = {}): Promise<string> {
  if (typeof action !== 'string' || action.length === 0 || action.length > 64) throw new ConfigError('nonce action must be a short non-empty string');
  const ttl = options.ttlMs ?? 10 * 60_000;
  const max = options.max ?? 32;
  const now = (options.clock ?? Date.now)();
  const nonce = toBase64Url(randomBytes(32));
  await session.update((d: Record<string, unknown>) => {
    const t = table(d);
    const live = Object.entries(t).filter(([, v]) => Array.isArray(v) && typeof v[1] === 'number' && v[1] > now);
    live.sort((a, b) => a[1][1] - b[1][1]);
    const next: NonceMap = Object.fromEntries(live.slice(Math.max(0, live.length - (max - 1))));
    next[nonce] = [action, now + ttl];
    d[NONCE_KEY] = next;
  });
  return nonce;
}

/**
 * Use a nonce once. Throws ReplayError (409, `ERR_REPLAY`) if it is unknown, expired, for another
 * action, or was already used — including by a concurrent request.
 *
 * @example
 * await consumeNonce(session, 'transfer', req.body.nonce)   // then perform the transfer
 */
export async function consumeNonce(session: Session<any>, action: string, nonce: unknown, options: Pick<NonceOptions, 'clock'> = {}): Promise<void> {
  if (typeof nonce !== 'string' || nonce.length !== 43) throw new ReplayError();
  const now = (options.clock ?? Date.now)();
  let ok = false;
  await session.update((d: Record<string, unknown>) => {
    // `update` may re-run this on fresher data: decide from scratch each time.
    ok = false;
    const t = { ...table(d) };
    const e = Object.prototype.hasOwnProperty.call(t, nonce) ? t[nonce] : undefined;
    if (!e) return;
    delete t[nonce];
    d[NONCE_KEY] = t;
    ok = Array.isArray(e) && e[0] === action && typeof e[1] === 'number' && e[1] > now;
  });
  if (!ok) throw new ReplayError();
}
