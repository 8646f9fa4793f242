/**
 * Failure counter per key over a fixed window (OWASP Authentication cheat sheet: throttle by
 * account and by source). In memory: a single-process demo; a cluster would keep this in Redis.
 */
export interface RateLimitOptions {
  max: number;
  windowMs: number;
  clock: () => number;
  /** Bound on tracked keys, so a flood of distinct keys cannot grow memory without limit. */
  maxKeys?: number;
}

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
      if (!e && this.hits.size >= (this.o.maxKeys ?? 50_000)) this.hits.delete(this.hits.keys().next().value as string);
      e = { count: 0, since: now };
      this.hits.set(key, e);
    }
    e.count++;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }
}
