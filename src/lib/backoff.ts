/**
 * @internal Jittered exponential backoff between compare-and-set retries: under contention an
 * immediate retry mostly loses again and costs a store round trip; spreading retries lets one
 * writer win per round. Nothing to wait for on the first two attempts.
 */
export function backoff(attempt: number): Promise<void> | void {
  if (attempt < 2) return;
  const cap = Math.min(1 << attempt, 32);
  const r = globalThis.crypto.getRandomValues(new Uint8Array(1))[0]! / 255;
  return new Promise((resolve) => setTimeout(resolve, Math.floor(r * cap)));
}

/** @internal What a compare-and-set round returns when another writer won it: run another round. */
export const RETRY: unique symbol = Symbol('cas.retry');

export interface CasOptions<T> {
  /** Rounds before giving up (default 1000): each lost round means another writer landed first. */
  attempts?: number;
  /**
   * Back off between lost rounds (default true). False only where the round itself waits for
   * nothing to settle and the loser is the request whose latency matters (a rotation's retire).
   */
  wait?: boolean;
  /** Called when every round was lost: throws (usually), or gives the result to return. */
  exhausted: () => T;
}

/**
 * @internal The one compare-and-set retry loop: `round` reads what it needs, writes with a
 * compare-and-set and returns its result, or RETRY when the write lost; lost rounds back off
 * (jittered) before the next. A round may also end the loop early by returning a result without
 * writing (the record is gone, someone else's write covers ours) or by throwing.
 */
export async function casRetry<T>(round: (attempt: number) => Promise<T | typeof RETRY>, o: CasOptions<T>): Promise<T> {
  const attempts = o.attempts ?? 1000;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const r = await round(attempt);
    if (r !== RETRY) return r;
    if (o.wait !== false) await backoff(attempt);
  }
  return o.exhausted();
}
