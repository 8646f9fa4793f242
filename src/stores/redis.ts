/**
 * Redis store for standalone Redis and Redis Cluster, on the client you already have:
 * node-redis 5 or 6 (`createClient` / `createCluster`) or ioredis 5 or 6 (`Redis` / `Cluster`).
 *
 * - An authenticated read is one `GET`; `touch` is one `EVALSHA`. No SCAN on the request path
 *   (only the optional `cleanup()`, which prunes the per-user indexes, scans).
 * - Every key has a TTL (`PXAT expiresAt`, SEC-19); the store only ever sees token hashes (SEC-21).
 * - `update` is a compare-and-set inside a Lua script; the per-user index is a sorted set.
 * - Every command is bounded by `commandTimeoutMs`; failures reject with `StoreUnavailableError`
 *   (fail closed), and recovery is the client's own reconnect. A write Redis refuses for memory
 *   (`OOM`) rejects with `StoreMemoryError`.
 * - Pinned records (revocation state) and the per-user indexes have no TTL, so no `volatile-*`
 *   eviction can reach them; the store expires them itself (a sweep). The server's eviction
 *   policy is checked before the first command and every `policyCheckIntervalMs`: `allkeys-*`
 *   is refused unless `unsafeAllowAllkeysEviction` is set (issue 19, docs/redis.md "Eviction").
 *
 * See docs/redis.md for the key layout, the cluster design and recommended client options.
 *
 * @example
 * import { createClient } from 'redis'
 * import { RedisStore } from 'sessionward/stores/redis'
 * const client = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true })
 * client.on('error', (err) => log.warn(err))
 * await client.connect()
 * const store = new RedisStore({ client })
 *
 * @example
 * import { Cluster } from 'ioredis'
 * const cluster = new Cluster([{ host: '10.0.0.1', port: 6379 }], { enableOfflineQueue: false })
 * const store = new RedisStore({ client: cluster, waitForReplicas: { replicas: 1, timeoutMs: 100 } })
 */
import { ConfigError, InvalidInputError, StoreMemoryError } from '../errors.js';
import type { DataPatch, PatchOptions, SessionRecord, SessionStore } from './types.js';
import { detectDriver, type RedisClientLike } from './redis-driver.js';
import { CREATE_INDEXED, CREATE_PINNED, DELETE, INDEX_ADD, PATCH, TOUCH, UPDATE, decodeRecord, encodeInt, encodeRecord } from './redis-codec.js';
import { applyPatch, patchText } from '../lib/patch.js';
import { noteData, takeWrite } from '../lib/data-json.js';
import { RedisConn, atLimit, script, type RedisStoreEvent, type RedisStoreStats, type Script } from './redis-conn.js';
import { EvictionCheck } from './redis-eviction.js';
import { ExpirySchedule } from './redis-sweep.js';
import { IndexCleanup, REMOVE_CHUNK } from './redis-cleanup.js';

export type { IoredisClusterLike, IoredisLike, NodeRedisClientLike, NodeRedisClusterLike, RedisClientLike } from './redis-driver.js';
export type { RedisStoreEvent, RedisStoreStats } from './redis-conn.js';
export { evictionRisk, type EvictionRisk } from './redis-eviction.js';

export interface RedisStoreOptions {
  /**
   * A connected node-redis 5/6 or ioredis 5/6 client or cluster, passed as is (typed structurally,
   * so any major and any module/RESP configuration fits). The store never closes it.
   */
  client: RedisClientLike;
  /** Key prefix. Default `sw:`. Must not contain `{` or `}` on a cluster (it would pin every key to one slot). */
  prefix?: string;
  /** Upper bound of every command, on top of the client's own timeouts (ms). Default 1000. */
  commandTimeoutMs?: number;
  /**
   * Durability: after create, delete, and updates that rotate (set `rotatedTo`) or change `userId`,
   * send `WAIT replicas timeoutMs` to the master that took the write, and reject with
   * `StoreUnavailableError` if fewer replicas acknowledged it. Off by default.
   */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  /**
   * `cleanup` only: how long an index entry whose session key is missing must stay missing before
   * it is removed (ms). A writer adds the index entry before the session key (see docs/redis.md),
   * so a key that is missing for a moment may be a login in flight; the grace must exceed the
   * longest gap between the two writes in every app instance: about 4 × their `commandTimeoutMs`
   * plus their `waitForReplicas.timeoutMs`. Default: that figure for this store's own options,
   * plus one second (5000 with the defaults). Since the removal itself is fenced (see
   * docs/redis.md), a grace that is too short can make such a login fail, never hide it.
   */
  cleanupGraceMs?: number;
  /**
   * Accept a server whose `maxmemory-policy` is `allkeys-*`. Such a policy may evict denylist
   * entries, cut-offs and user indexes, so a logged-out or revoked credential can be accepted
   * again and "log out everywhere" can miss sessions. Without this option the store refuses
   * every command on such a server with `StoreEvictionPolicyError`; with it, it warns (event).
   */
  unsafeAllowAllkeysEviction?: boolean;
  /** How often the eviction policy is checked again, ms (checked in the background). Default 60000. */
  policyCheckIntervalMs?: number;
  /** Warnings and memory pressure, as events (see {@link RedisStoreEvent}). Must not throw. */
  onEvent?: (e: RedisStoreEvent) => void;
}

const S_TOUCH = script(TOUCH);
const S_UPDATE = script(UPDATE);
const S_UPDATE_AT_LIMIT = atLimit(UPDATE);
const S_CREATE_PINNED = script(CREATE_PINNED);
const S_CREATE_PINNED_AT_LIMIT = atLimit(CREATE_PINNED);
const S_DELETE = script(DELETE);
const S_INDEX_ADD = script(INDEX_ADD);
const S_PATCH = script(PATCH);
const S_CREATE_INDEXED = script(CREATE_INDEXED);

/**
 * Session store on Redis or Redis Cluster. See the module comment and docs/redis.md.
 *
 * @example
 * const store = new RedisStore({ client, prefix: 'myapp:sw:', commandTimeoutMs: 500 })
 */
export class RedisStore implements SessionStore {
  readonly name = 'redis';
  readonly #c: RedisConn;
  readonly #prefix: string;
  readonly #schedule: ExpirySchedule;
  readonly #cleanup: IndexCleanup;
  readonly #onEvent: ((e: RedisStoreEvent) => void) | undefined;

  constructor(options: RedisStoreOptions) {
    if (!options || !options.client) {
      throw new ConfigError(
        'RedisStore: `client` is required: install a driver (`npm i redis`, or `npm i ioredis`) and pass a connected client, ' +
          "e.g. `const client = await createClient({ url: 'redis://127.0.0.1:6379' }).connect()` (docs/redis.md)",
      );
    }
    const d = detectDriver(options.client);
    this.#prefix = options.prefix ?? 'sw:';
    const timeout = options.commandTimeoutMs ?? 1000;
    if (!(timeout > 0) || !Number.isFinite(timeout)) throw new ConfigError('RedisStore: commandTimeoutMs must be a positive number');
    if (d.cluster && /[{}]/.test(this.#prefix)) {
      throw new ConfigError('RedisStore: a cluster prefix must not contain { or } (a hash tag would put every key in one slot)');
    }
    let wait: { replicas: number; timeoutMs: number } | undefined;
    const w = options.waitForReplicas;
    if (w) {
      if (!Number.isInteger(w.replicas) || w.replicas < 1) throw new ConfigError('RedisStore: waitForReplicas.replicas must be an integer >= 1');
      // WAIT 0 blocks forever; a request must never hang on replication.
      if (!Number.isInteger(w.timeoutMs) || w.timeoutMs < 1) throw new ConfigError('RedisStore: waitForReplicas.timeoutMs must be an integer >= 1');
      wait = { replicas: w.replicas, timeoutMs: w.timeoutMs };
    }
    const grace = options.cleanupGraceMs ?? 4 * timeout + (wait?.timeoutMs ?? 0) + 1000;
    if (!(grace >= 0) || !Number.isFinite(grace)) throw new ConfigError('RedisStore: cleanupGraceMs must be a non-negative number');
    const checkEvery = options.policyCheckIntervalMs ?? 60_000;
    if (!(checkEvery > 0) || !Number.isFinite(checkEvery)) throw new ConfigError('RedisStore: policyCheckIntervalMs must be a positive number');
    this.#onEvent = options.onEvent;
    const emit = (e: RedisStoreEvent): void => this.#emit(e);
    const policy = new EvictionCheck(d, { allowAllkeys: options.unsafeAllowAllkeysEviction === true, checkEvery, timeout, emit });
    this.#c = new RedisConn(d, timeout, policy, emit, wait);
    this.#schedule = new ExpirySchedule(this.#c, this.#prefix);
    this.#cleanup = new IndexCleanup(this.#c, this.#prefix, grace, this.#schedule);
  }

  /**
   * Check the server's eviction policy now (every master on a cluster). Resolves when the store
   * may be used; rejects with `StoreEvictionPolicyError` under `allkeys-*` without
   * `unsafeAllowAllkeysEviction`, or `StoreUnavailableError`. Await it at start-up to fail there
   * rather than on the first request; every command waits for the first check anyway.
   *
   * @example
   * const store = new RedisStore({ client })
   * await store.ready()
   */
  async ready(): Promise<void> {
    await this.#c.policy.check();
    if (this.#c.policy.refusal) throw this.#c.policy.refusal;
  }

  /** Counters for metrics: memory refusals and writes accepted at the memory limit. */
  get stats(): Readonly<RedisStoreStats> {
    return { ...this.#c.stats };
  }

  /** The sorted set of pinned keys (records and user indexes) by the time they may be removed. */
  get expiryKey(): string {
    return this.#schedule.key;
  }

  /** Which client library and mode was detected, for diagnostics. */
  get driver(): string {
    return this.#c.d.kind;
  }

  /** The Redis key of a session id (useful for operators and tests). */
  sessionKey(id: string): string {
    return `${this.#prefix}s:${id}`;
  }

  /** The Redis key of a user's index (a sorted set of session ids scored by absoluteExpiresAt). */
  userKey(userId: string): string {
    return `${this.#prefix}u:${userId}`;
  }

  async get(id: string, now: number): Promise<SessionRecord | null> {
    // Hot path: exactly one GET, no writes. Redis' TTL equals expiresAt, but `now` is the
    // caller's clock, so compare it too (SEC-19).
    const key = this.sessionKey(id);
    const s = await this.#c.send(key, ['GET', key]);
    if (s == null) return null;
    const r = decodeRecord(id, String(s));
    return r.expiresAt <= now ? null : r;
  }

  async create(record: SessionRecord): Promise<boolean> {
    const value = encodeRecord(record);
    if (record.userId !== null && !record.pinned && !this.#c.d.cluster) {
      // Standalone: every key is on one node, so index, sweep entry and session go in one script.
      const key = this.sessionKey(record.id);
      const ok = await this.#c.evalKeys(S_CREATE_INDEXED, [key, this.userKey(record.userId), this.expiryKey], [
        String(Date.now()), String(record.absoluteExpiresAt), record.id, `u:${record.userId}`, value, String(record.expiresAt),
      ]);
      this.#schedule.sweepSoon();
      if (Number(ok) !== 1) return false;
      await this.#c.durable(key);
      return true;
    }
    // Index first: the index may over-approximate (stale ids are filtered on read), but a live
    // session must never exist without its index entry, or deleteByUser could miss it (SEC-38).
    if (record.userId !== null) await this.#indexAdd(record.userId, record.id, record.absoluteExpiresAt);
    const key = this.sessionKey(record.id);
    if (record.pinned) {
      // Registered for the sweep before (standalone: with) it exists without a TTL, so it can never be left behind.
      const s = this.#c.policy.scriptFlags ? S_CREATE_PINNED_AT_LIMIT : S_CREATE_PINNED;
      let ok: unknown;
      if (this.#c.d.cluster) {
        await this.#schedule.pin(`s:${record.id}`, record.expiresAt, true);
        ok = await this.#c.eval(s, key, [String(Date.now()), value]);
      } else {
        ok = await this.#c.evalKeys(s, [key, this.expiryKey], [String(Date.now()), value, String(record.expiresAt), `s:${record.id}`]);
        this.#schedule.sweepSoon();
      }
      if (Number(ok) !== 1) return false;
    } else {
      const ok = await this.#c.send(key, ['SET', key, value, 'NX', 'PXAT', String(record.expiresAt)]);
      if (ok == null) return false;
    }
    await this.#c.durable(key);
    return true;
  }

  async update(record: SessionRecord, expectedVersion: number, now: number): Promise<boolean> {
    if (record.version !== expectedVersion + 1) throw new InvalidInputError('update: record.version must be expectedVersion + 1');
    // The contract caps expiresAt at the absolute end; enforced here, not only by callers (SEC-11).
    const expiresAt = Math.min(record.expiresAt, record.absoluteExpiresAt);
    const value = encodeRecord(expiresAt === record.expiresAt ? record : { ...record, expiresAt }, takeWrite(record.data) ?? undefined);
    const key = this.sessionKey(record.id);
    const pinned = record.pinned === true;
    const args = [
      String(expectedVersion), String(now), value, String(expiresAt),
      record.userId === null ? '0' : '1', record.userId ?? '', String(record.absoluteExpiresAt), '0', pinned ? '1' : '0', '0',
    ];
    if (pinned) await this.#schedule.pin(`s:${record.id}`, expiresAt, true);
    let res = (await this.#updateScript(key, args, pinned)) as unknown[];
    if (Array.isArray(res) && Number(res[0]) === 2) {
      // New owner (login) or later absolute end: index first, then write (see UPDATE).
      await this.#indexAdd(record.userId!, record.id, record.absoluteExpiresAt);
      args[7] = '1';
      res = (await this.#updateScript(key, args, pinned)) as unknown[];
    }
    if (!Array.isArray(res) || Number(res[0]) !== 1) return false;
    const oldUser = res[1] == null ? null : String(res[1]);
    if (oldUser !== record.userId) {
      await this.#c.durable(key);
      // Hygiene only: a stale entry would be filtered on read anyway.
      if (oldUser !== null) await this.#c.send(this.userKey(oldUser), ['ZREM', this.userKey(oldUser), record.id]);
    } else if (record.rotatedTo) {
      await this.#c.durable(key);
    }
    return true;
  }

  /**
   * UPDATE, and at the memory limit once more as an allow-oom script that only writes what does
   * not grow (a logout fence, a tombstone) or is pinned: logout and revocation work on a full Redis.
   */
  async #updateScript(key: string, args: string[], pinned: boolean): Promise<unknown> {
    // Pinned (revocation state): always allowed at the limit; the script never lets others grow.
    if (pinned && this.#c.policy.scriptFlags) return this.#c.eval(S_UPDATE_AT_LIMIT, key, [...args.slice(0, -1), '1']);
    try {
      return await this.#c.eval(S_UPDATE, key, args);
    } catch (e) {
      if (!(e instanceof StoreMemoryError) || !this.#c.policy.scriptFlags) throw e;
      const res = (await this.#atLimit(S_UPDATE_AT_LIMIT, key, args)) as unknown[];
      if (Array.isArray(res) && Number(res[0]) === 3) throw e;
      return res;
    }
  }

  async #atLimit(s: Script, key: string, args: string[]): Promise<unknown> {
    const res = await this.#c.eval(s, key, [...args.slice(0, -1), '1']);
    if (!Array.isArray(res) || Number(res[0]) !== 3) this.#c.stats.writesAtLimit++;
    return res;
  }

  /**
   * Per-key data changes in one `EVALSHA` (see PATCH in redis-codec): no read first and no retry,
   * so writers of different keys of one session never conflict. Same owner and absolute end, so
   * the user index is untouched; the session key keeps its TTL (`PXAT expiresAt`).
   */
  async patch(id: string, patch: DataPatch, opts: PatchOptions): Promise<SessionRecord | null> {
    const p = patchText(patch, opts);
    // The script's merge would append an index key out of JavaScript's order (PatchText.indexKey).
    if (p.indexKey) return null;
    // The uncontended case: the caller's base with the patch applied, written if nothing changed.
    const b = opts.base;
    const data = b && b.id === id && !b.rotatedTo ? applyPatch(b.data, p) : null;
    const mine = data && { ...b!, data, version: b!.version + 1, lastSeenAt: opts.now, expiresAt: Math.min(opts.expiresAt, b!.absoluteExpiresAt), meta: { ...b!.meta }, rotatedTo: null };
    const mineJson = mine ? JSON.stringify(mine.data) : '';
    const args = [
      String(opts.now), String(opts.expiresAt), encodeInt(opts.expiresAt, 'expiresAt'), encodeInt(opts.now, 'now'),
      mine ? String(b!.version) : '', mine ? encodeRecord(mine, mineJson) : '', String(p.expect.length),
    ];
    for (const [k, v] of p.expect) args.push(JSON.stringify(k), v ?? '');
    args.push(String(p.set.length));
    for (const [k, v] of p.set) args.push(JSON.stringify(k), v);
    for (const k of p.del) args.push(JSON.stringify(k));
    const key = this.sessionKey(id);
    const res = await this.#c.eval(S_PATCH, key, args);
    if (res == null || res === false) return null;
    if (Number(res) !== 1 || !mine) return decodeRecord(id, String(res));
    noteData(mine.data, mineJson);
    return mine;
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean> {
    const key = this.sessionKey(id);
    const e36 = encodeInt(expiresAt, 'expiresAt');
    const res = await this.#c.eval(S_TOUCH, key, [String(now), encodeInt(lastSeenAt, 'lastSeenAt'), String(expiresAt), e36]);
    return Number(res) === 1;
  }

  async delete(id: string): Promise<void> {
    const key = this.sessionKey(id);
    const res = (await this.#c.eval(S_DELETE, key, [''])) as unknown[];
    if (!Array.isArray(res) || Number(res[0]) !== 1) return;
    await this.#c.durable(key);
    if (res[1] != null) await this.#c.send(this.userKey(String(res[1])), ['ZREM', this.userKey(String(res[1])), id]);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const ukey = this.userKey(userId);
    // O(log N + M) in the user's own set: independent of how many sessions Redis holds.
    // Entries past their absolute expiry are dead for certain: prune them so an active user's
    // index does not grow without bound between cleanup runs.
    const [, ids] = (await Promise.all([
      this.#c.send(ukey, ['ZREMRANGEBYSCORE', ukey, '-inf', String(now)]),
      this.#c.send(ukey, ['ZRANGEBYSCORE', ukey, `(${now}`, '+inf']),
    ])) as [unknown, string[]];
    if (!ids || ids.length === 0) return [];
    const keys = ids.map((id) => this.sessionKey(id));
    let values: unknown[];
    if (this.#c.d.cluster) {
      // Session keys live in different slots; the clients pipeline these per node.
      values = await Promise.all(keys.map((k) => this.#c.send(k, ['GET', k])));
    } else {
      values = (await this.#c.send(keys[0], ['MGET', ...keys])) as unknown[];
    }
    const out: SessionRecord[] = [];
    for (let i = 0; i < ids.length; i++) {
      const v = values[i];
      // A missing key or another owner is skipped but NOT removed from the index here: a login
      // in flight writes its index entry before its session (or owner change), and removing the
      // entry now would hide a live session from "log out everywhere" (SEC-38). Such entries
      // are pruned by score as they expire, and by cleanup() after a grace re-check.
      if (v == null) continue;
      const r = decodeRecord(ids[i]!, String(v));
      if (r.userId === userId && r.expiresAt > now && !r.rotatedTo) out.push(r);
    }
    return out;
  }

  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    // A rotation racing this one indexes its successor after our ZRANGE, then turns the old
    // session into a pointer, which we still delete: the successor would outlive "log out
    // everywhere". It was indexed before the pointer was written, so the next pass lists it;
    // passes repeat until one deletes nothing (the PostgreSQL store does the same).
    let n = 0;
    for (let pass = 0; pass < 16; pass++) {
      const r = await this.#deleteByUserOnce(userId, exceptId);
      n += r.counted;
      if (r.deleted === 0) break;
    }
    return n;
  }

  async #deleteByUserOnce(userId: string, exceptId?: string): Promise<{ counted: number; deleted: number }> {
    const ukey = this.userKey(userId);
    const ids = ((await this.#c.send(ukey, ['ZRANGE', ukey, '0', '-1'])) as string[]) ?? [];
    const targets = ids.filter((id) => id !== exceptId);
    if (targets.length === 0) return { counted: 0, deleted: 0 };
    const results = await Promise.all(
      targets.map(async (id) => {
        const key = this.sessionKey(id);
        const res = (await this.#c.eval(S_DELETE, key, [userId])) as unknown[];
        const deleted = Array.isArray(res) && Number(res[0]) === 1;
        if (deleted) await this.#c.durable(key);
        // Count the user's live sessions, not their rotation tombstones or pending logins.
        return { id, deleted, counted: deleted && res[1] != null && String(res[1]) === userId && Number(res[2]) !== 1 };
      }),
    );
    // ZREM only what we actually deleted, never DEL the key: an id whose session key is missing
    // may be a login in flight (index entry written, SET NX not yet), and dropping its entry would
    // hide that session from the next "log out everywhere" (SEC-38). cleanup() prunes real strays.
    const gone = results.filter((r) => r.deleted).map((r) => r.id);
    for (let i = 0; i < gone.length; i += REMOVE_CHUNK) await this.#c.send(ukey, ['ZREM', ukey, ...gone.slice(i, i + REMOVE_CHUNK)]);
    return { counted: results.filter((r) => r.counted).length, deleted: gone.length };
  }

  /**
   * Index hygiene: removes at most `limit` per-user index entries that can no longer name a live
   * session — entries whose absolute end has passed (`score <= now`) and entries whose session key
   * is gone (checked again after `cleanupGraceMs`, so a login in flight keeps its entry) — and
   * returns how many it removed. Session keys themselves expire by TTL; this never touches them.
   *
   * One call walks the user indexes with `SCAN … MATCH <prefix>u:* TYPE zset` on every master,
   * resuming where the previous call of this instance stopped; it returns less than `limit` only
   * when it finished a full pass (the next call starts a new one). Calls on one instance run one
   * at a time.
   *
   * @example
   * // What `sessionward cleanup --redis <url>` does:
   * const now = Date.now()
   * while ((await store.cleanup(now, 1000)) === 1000) {}
   */
  cleanup(now: number, limit = 1000): Promise<number> {
    return this.#cleanup.run(now, limit);
  }

  async #indexAdd(userId: string, id: string, absoluteExpiresAt: number): Promise<void> {
    const ukey = this.userKey(userId);
    await this.#schedule.pin(`u:${userId}`, absoluteExpiresAt, false);
    await this.#c.eval(S_INDEX_ADD, ukey, [String(Date.now()), String(absoluteExpiresAt), id]);
    await this.#c.durable(ukey);
  }

  #emit(e: RedisStoreEvent): void {
    try {
      this.#onEvent?.(e);
    } catch {
      // A broken listener must not turn a store call into a failure.
    }
  }
}
