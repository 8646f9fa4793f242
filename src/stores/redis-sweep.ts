/**
 * Internal: the expiry schedule of the Redis store's pinned keys (`<prefix>expiry`).
 *
 * Pinned records (revocation state) and user indexes have no TTL, so no `volatile-*` eviction can
 * reach them; the store removes them itself. Every such key is registered here (scored by when it
 * may go, never moved earlier) *before* it is written without a TTL, so none can be left behind.
 * Writes run a bounded background sweep (at most one at a time and one per second); `cleanup()`
 * sweeps the rest. Readers never depend on it (every read compares expiresAt): memory hygiene only.
 */
import { atLimit, script, type RedisConn } from './redis-conn.js';
import { SWEEP_ADD, SWEEP_DROP, SWEEP_INDEX, SWEEP_RECORD } from './redis-codec.js';

const S_SWEEP_ADD = script(SWEEP_ADD);
const S_SWEEP_ADD_AT_LIMIT = atLimit(SWEEP_ADD);
const S_SWEEP_RECORD = script(SWEEP_RECORD);
const S_SWEEP_INDEX = script(SWEEP_INDEX);
const S_SWEEP_DROP = script(SWEEP_DROP);

/** Due entries the background sweep handles per run. */
const SWEEP_BATCH = 200;
/** Lua's unpack() and the argument stack stay far below their limits with this many members. */
const DROP_CHUNK = 500;

export class ExpirySchedule {
  #sweeping = false;
  #sweptAt = 0;

  constructor(
    private readonly conn: RedisConn,
    private readonly prefix: string,
  ) {}

  /** The sorted set of pinned keys (records and user indexes) by the time they may be removed. */
  get key(): string {
    return `${this.prefix}expiry`;
  }

  /** Register a pinned key (`s:<id>` or `u:<userId>`) for the sweep, never moving it earlier. */
  async pin(member: string, until: number, allowAtLimit: boolean): Promise<void> {
    const x = this.key;
    await this.conn.eval(allowAtLimit && this.conn.policy.scriptFlags ? S_SWEEP_ADD_AT_LIMIT : S_SWEEP_ADD, x, [String(until), member]);
    this.sweepSoon();
  }

  /** A background sweep after pinned writes, at most one at a time and one per second. */
  sweepSoon(): void {
    const t = Date.now();
    if (this.#sweeping || t - this.#sweptAt < 1000) return;
    this.#sweeping = true;
    this.#sweptAt = t;
    this.sweep(t, SWEEP_BATCH)
      .catch(() => undefined) // hygiene only: the next write or cleanup() tries again
      .finally(() => {
        this.#sweeping = false;
      });
  }

  /**
   * Remove pinned keys whose time has passed: records past their expiresAt, user indexes whose
   * every entry has ended. Returns the number of sweep entries handled.
   */
  async sweep(now: number, limit: number): Promise<number> {
    const x = this.key;
    const due = ((await this.conn.send(x, ['ZRANGEBYSCORE', x, '-inf', String(now), 'LIMIT', '0', String(limit)])) as unknown[]).map(String);
    if (due.length === 0) return 0;
    const drop: string[] = [];
    await Promise.all(
      due.map(async (m) => {
        const res = await this.conn.eval(m.startsWith('u:') ? S_SWEEP_INDEX : S_SWEEP_RECORD, this.prefix + m, [String(now)]);
        if (Array.isArray(res)) await this.conn.eval(S_SWEEP_ADD, x, [String(res[1]), m]);
        else drop.push(m);
      }),
    );
    for (let i = 0; i < drop.length; i += DROP_CHUNK) await this.conn.eval(S_SWEEP_DROP, x, [String(now), ...drop.slice(i, i + DROP_CHUNK)]);
    return due.length;
  }
}
