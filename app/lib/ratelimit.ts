/**
 * Throttles for guessing (OWASP Authentication cheat sheet: throttle by account and by source,
 * and slow the attacker rather than lock the owner out). In memory: a single-process demo; a
 * cluster would keep these in Redis.
 */
export interface RateLimitOptions {
  max: number;
  windowMs: number;
  clock: () => number;
  /** Bound on tracked keys, so a flood of distinct keys cannot grow memory without limit. */
  maxKeys?: number;
}

/** Insert or replace, evicting the oldest key first when the map is full. */
function boundedSet<V>(map: Map<string, V>, key: string, value: V, maxKeys = 50_000): void {
  if (!map.has(key) && map.size >= maxKeys) map.delete(map.keys().next().value as string);
  map.set(key, value);
}

/** Counter per key over a fixed window: after `max` hits the key waits until the window ends. */
export class FailureLimiter {
  private readonly hits = new Map<string, { count: number; since: number }>();
  constructor(private readonly o: RateLimitOptions) {}

  /** Milliseconds until `key` may try again, or 0 if it may now. */
  retryAfter(key: string): number {
    const e = this.hits.get(key);
    if (!e) return 0;
    const left = e.since + this.o.windowMs - this.o.clock();
    if (left <= 0) {
      this.hits.delete(key);
      return 0;
    }
    return e.count >= this.o.max ? left : 0;
  }

  fail(key: string): void {
    const now = this.o.clock();
    let e = this.hits.get(key);
    if (!e || now - e.since >= this.o.windowMs) {
      e = { count: 0, since: now };
      boundedSet(this.hits, key, e, this.o.maxKeys);
    }
    e.count++;
  }

  /** Give back one failure counted in advance by an attempt that succeeded. */
  release(key: string): void {
    const e = this.hits.get(key);
    if (e && e.count > 0) e.count--;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }
}

export interface BackoffOptions {
  /** Failures allowed before any wait (typing mistakes). */
  free: number;
  /** Wait after the first failure past `free`; doubles with each further failure. */
  baseMs: number;
  /** Longest wait. */
  maxMs: number;
  /** A key with no failure for this long starts over. */
  forgetMs: number;
  clock: () => number;
  maxKeys?: number;
}

/**
 * Exponential backoff per key: `free` failures, then waits of base, 2 base, 4 base ... up to
 * `maxMs`. Nothing is ever locked for good, and each key (an account seen from one address,
 * one device) pays only for its own failures.
 */
export class Backoff {
  private readonly hits = new Map<string, { count: number; last: number }>();
  constructor(private readonly o: BackoffOptions) {}

  /** Milliseconds until `key` may try again, or 0 if it may now. */
  retryAfter(key: string): number {
    const e = this.hits.get(key);
    if (!e) return 0;
    const now = this.o.clock();
    if (now - e.last >= this.o.forgetMs) {
      this.hits.delete(key);
      return 0;
    }
    if (e.count < this.o.free) return 0;
    const wait = Math.min(this.o.baseMs * 2 ** (e.count - this.o.free), this.o.maxMs);
    return Math.max(0, e.last + wait - now);
  }

  fail(key: string): void {
    const now = this.o.clock();
    const e = this.hits.get(key);
    const count = e && now - e.last < this.o.forgetMs ? e.count + 1 : 1;
    boundedSet(this.hits, key, { count, last: now }, this.o.maxKeys);
  }

  /** Give back one failure counted in advance by an attempt that succeeded. */
  release(key: string): void {
    const e = this.hits.get(key);
    if (!e) return;
    if (e.count <= 1) this.hits.delete(key);
    else e.count--;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }
}

/** A throttle and the key one attempt is counted under. */
export type Charge = [limiter: FailureLimiter | Backoff, key: string];

/**
 * Check every charge and, if none makes the attempt wait, count it as a failure on all of them,
 * in one synchronous step before the expensive check (scrypt) is awaited: otherwise a burst of
 * concurrent attempts all pass the check while the first hash runs, and are all evaluated.
 * Returns the milliseconds to wait (nothing counted), or 0 (counted: call `release` on success).
 */
export function reserve(charges: readonly Charge[]): number {
  const wait = Math.max(0, ...charges.map(([l, key]) => l.retryAfter(key)));
  if (wait === 0) for (const [l, key] of charges) l.fail(key);
  return wait;
}

/** Give back the failures `reserve` counted for an attempt that turned out right. */
export function release(charges: readonly Charge[]): void {
  for (const [l, key] of charges) l.release(key);
}
