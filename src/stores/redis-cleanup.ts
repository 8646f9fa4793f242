/**
 * Internal: index hygiene of the Redis store (`cleanup()`, never on the request path).
 *
 * Walks the user indexes (`SCAN … MATCH <prefix>u:* TYPE zset` on every master, resumed by the
 * next call) and removes entries that can no longer name a live session: entries whose absolute
 * end has passed, and entries whose session key is missing — checked again after a grace and
 * fenced, because a login in flight writes its index entry before its session key (docs/redis.md
 * "Index hygiene"). Only sorted sets that can be proven ours are touched (issue 21). At the end of
 * a pass it also runs the expiry schedule's sweep of pinned keys.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, StoreUnavailableError } from '../errors.js';
import type { MasterSender } from './redis-driver.js';
import { CLEANUP_FENCE_VALUE, INDEX_PRUNE, INDEX_REMOVE } from './redis-codec.js';
import { bounded, script, type RedisConn } from './redis-conn.js';
import type { ExpirySchedule } from './redis-sweep.js';

const S_INDEX_PRUNE = script(INDEX_PRUNE);
const S_INDEX_REMOVE = script(INDEX_REMOVE);

/** A member of a user index: a session id (base64url SHA-256). Anything else is not ours. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** An index larger than this is not treated as ours by cleanup (a user never has that many sessions). */
const MAX_INDEX_MEMBERS = 100_000;
/** Lua's unpack() and the argument stack stay far below their limits with this many ids. */
export const REMOVE_CHUNK = 500;

/** A pass of `cleanup` over every master's keyspace, resumed by the next call. */
interface CleanupPass {
  nodes: Array<{ master: MasterSender; cursor: string; done: boolean }>;
  /** Index keys scanned but not handled yet (also keys handed back when a call ran out of budget). */
  keys: string[];
}

interface Suspect {
  ukey: string;
  id: string;
  score: number;
}

export class IndexCleanup {
  #pass: CleanupPass | undefined;
  /** Serialises cleanup calls: they share the pass (its SCAN cursors). */
  #cleaning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly conn: RedisConn,
    private readonly prefix: string,
    private readonly grace: number,
    private readonly schedule: ExpirySchedule,
  ) {}

  private sessionKey(id: string): string {
    return `${this.prefix}s:${id}`;
  }

  /** See `RedisStore.cleanup`. */
  run(now: number, limit = 1000): Promise<number> {
    if (!Number.isSafeInteger(now) || now < 0) return Promise.reject(new InvalidInputError('cleanup: now must be a non-negative integer'));
    if (!(limit >= 1)) return Promise.reject(new InvalidInputError('cleanup: limit must be at least 1'));
    const max = Number.isFinite(limit) ? Math.floor(limit) : Number.MAX_SAFE_INTEGER;
    const run = this.#cleaning.then(() => this.#cleanup(now, max));
    this.#cleaning = run.catch(() => undefined);
    return run;
  }

  async #cleanup(now: number, max: number): Promise<number> {
    let removed = 0;
    try {
      const pass = (this.#pass ??= await this.#newPass());
      while (removed < max) {
        const suspects: Suspect[] = [];
        let done = false;
        // Gather: prune by score at once, and collect ids whose session key is missing, until
        // the budget could be spent or the pass ends; then verify those after one grace period.
        while (removed + suspects.length < max) {
          const ukey = await this.#nextIndexKey(pass, max);
          if (ukey === undefined) {
            done = true;
            break;
          }
          const live = await this.#ownIndex(ukey, now);
          if (live === null) continue; // an application's sorted set under our prefix: not ours to touch
          const [n, left] = ((await this.conn.eval(S_INDEX_PRUNE, ukey, [String(now), String(max - removed - suspects.length)])) as unknown[]).map(Number);
          removed += n!;
          if (left! > 0 || removed + suspects.length >= max) {
            // Out of budget with work left in this key: the next call starts with it.
            pass.keys.unshift(ukey);
            break;
          }
          const missing = new Set(await this.#missing([...live.keys()]));
          const room = max - removed - suspects.length;
          const found = [...live].filter(([id]) => missing.has(id));
          for (const [id, score] of found.slice(0, room)) suspects.push({ ukey, id, score });
          if (found.length > room) pass.keys.unshift(ukey);
        }
        if (suspects.length > 0) removed += await this.#removeIfStillMissing(suspects, now);
        if (done) {
          this.#pass = undefined;
          // Pinned keys past their time (the write path sweeps a little too).
          while (removed < max) {
            const n = await this.schedule.sweep(now, Math.min(max - removed, 1000));
            removed += n;
            if (n === 0) break;
          }
          return removed;
        }
      }
      return removed;
    } catch (e) {
      // Cursors may be stale after a failure or a topology change: the next call starts afresh.
      this.#pass = undefined;
      throw e;
    }
  }

  async #newPass(): Promise<CleanupPass> {
    if (!this.conn.d.ready()) throw new StoreUnavailableError('session store unavailable');
    const masters = await bounded(() => this.conn.d.masters(), this.conn.timeout);
    return { nodes: masters.map((master) => ({ master, cursor: '0', done: false })), keys: [] };
  }

  async #nextIndexKey(pass: CleanupPass, max: number): Promise<string | undefined> {
    // Glob-escape the prefix: a `*` or `[` in it must not match another store's keys.
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}u:*`;
    const count = String(Math.min(Math.max(max, 100), 1000));
    for (;;) {
      const key = pass.keys.shift();
      if (key !== undefined) return key;
      const node = pass.nodes.find((x) => !x.done);
      if (!node) return undefined;
      if (!this.conn.d.ready()) throw new StoreUnavailableError('session store unavailable');
      const reply = (await bounded(
        () => node.master.send(['SCAN', node.cursor, 'MATCH', pattern, 'COUNT', count, 'TYPE', 'zset']),
        this.conn.timeout,
      )) as [unknown, unknown[]];
      node.cursor = String(reply[0]);
      node.done = node.cursor === '0';
      pass.keys.push(...reply[1].map(String));
    }
  }

  /**
   * The live entries (id -> score) of a user index, or null when the key cannot be proven ours:
   * only sorted sets whose every member is a session id and every score an epoch-ms integer are,
   * so an application's leaderboard or schedule under the same prefix is never pruned (issue 21).
   */
  async #ownIndex(ukey: string, now: number): Promise<Map<string, number> | null> {
    const n = Number(await this.conn.send(ukey, ['ZCARD', ukey]));
    if (!(n > 0) || n > MAX_INDEX_MEMBERS) return null;
    // RESP2 replies a flat [member, score, ...] list, RESP3 clients a list of pairs.
    const flat = ((await this.conn.send(ukey, ['ZRANGE', ukey, '0', '-1', 'WITHSCORES'])) as unknown[]).flat().map(String);
    const live = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const id = flat[i]!;
      const score = Number(flat[i + 1]);
      if (!SESSION_ID.test(id) || !Number.isSafeInteger(score) || score < 0) return null;
      if (score > now) live.set(id, score);
    }
    return live;
  }

  /** The ids among `ids` whose session key does not exist (one EXISTS each: keys differ in slot). */
  async #missing(ids: string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += REMOVE_CHUNK) {
      const chunk = ids.slice(i, i + REMOVE_CHUNK);
      const exists = await Promise.all(chunk.map((id) => this.conn.send(this.sessionKey(id), ['EXISTS', this.sessionKey(id)])));
      chunk.forEach((id, j) => {
        if (Number(exists[j]) === 0) out.push(id);
      });
    }
    return out;
  }

  async #removeIfStillMissing(suspects: Suspect[], now: number): Promise<number> {
    // Index first, session second: a create or login writes its entry, then its key. An entry
    // seen without its key may be such a write in flight, so look again after the grace. The
    // second look is a fence, not a read: an expired record put where no key exists (SET NX)
    // until the entry's absolute end, so a login slower than any grace (a long command timeout,
    // a replica wait, a stalled client) fails its own SET NX instead of landing unindexed.
    if (this.grace > 0) await sleep(this.grace);
    const fenced = await Promise.all(
      suspects.map(async (s) => {
        const key = this.sessionKey(s.id);
        if (s.score <= now) return true;
        return (await this.conn.send(key, ['SET', key, CLEANUP_FENCE_VALUE, 'NX', 'PXAT', String(s.score)])) != null;
      }),
    );
    const byKey = new Map<string, string[]>();
    for (const [i, s] of suspects.entries()) {
      if (!fenced[i]) continue;
      const list = byKey.get(s.ukey);
      if (list) list.push(s.id);
      else byKey.set(s.ukey, [s.id]);
    }
    let removed = 0;
    for (const [ukey, ids] of byKey) {
      for (let i = 0; i < ids.length; i += REMOVE_CHUNK) {
        removed += Number(await this.conn.eval(S_INDEX_REMOVE, ukey, ids.slice(i, i + REMOVE_CHUNK)));
      }
    }
    return removed;
  }
}
