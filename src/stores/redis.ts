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
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConfigError, InvalidInputError, SessionwardError, StoreError, StoreEvictionPolicyError, StoreMemoryError, StoreUnavailableError,
} from '../errors.js';
import type { SessionRecord, SessionStore } from './types.js';
import { detectDriver, type MasterSender, type RedisClientLike, type RedisDriver } from './redis-driver.js';
import {
  CLEANUP_FENCE_VALUE, CREATE_PINNED, DELETE, INDEX_ADD, INDEX_PRUNE, INDEX_REMOVE, SWEEP_ADD, SWEEP_DROP, SWEEP_INDEX, SWEEP_RECORD, TOUCH, UPDATE,
  decodeRecord, encodeInt, encodeRecord,
} from './redis-codec.js';

export type { IoredisClusterLike, IoredisLike, NodeRedisClientLike, NodeRedisClusterLike, RedisClientLike } from './redis-driver.js';

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

/** What the eviction policy can cost: nothing, early sign-outs, or revocation state. */
export type EvictionRisk = 'none' | 'sessions' | 'revocation' | 'unknown';

export type RedisStoreEvent =
  | {
      /** Emitted when a check finds a policy that can evict something (or cannot be read), or refuses it. */
      type: 'store.eviction_policy';
      at: string;
      store: 'redis';
      /** `host:port` of the master, or `standalone`. */
      node: string;
      policy: string | null;
      maxmemory: number | null;
      risk: EvictionRisk;
      refused: boolean;
    }
  | {
      /** Redis refused a write for memory (OOM); the caller got `StoreMemoryError`. */
      type: 'store.memory_pressure';
      at: string;
      store: 'redis';
      command: string;
    };

/** Counters for metrics. */
export interface RedisStoreStats {
  /** Writes Redis refused for memory (each rejected with StoreMemoryError). */
  memoryRefusals: number;
  /** Logout fences, deletes' companions and revocation writes accepted at the memory limit. */
  writesAtLimit: number;
}

interface NodePolicy {
  node: string;
  policy: string | null;
  maxmemory: number | null;
  major: number;
}

/** Shared by the store and the tests: what each `maxmemory-policy` can evict of ours. */
export function evictionRisk(policy: string | null): EvictionRisk {
  if (policy === null) return 'unknown';
  if (policy === 'noeviction') return 'none';
  if (policy.startsWith('volatile-')) return 'sessions';
  if (policy.startsWith('allkeys-')) return 'revocation';
  return 'unknown';
}

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

interface Script {
  src: string;
  sha: string;
}

function script(src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') };
}

/** The same script flagged `allow-oom` (Redis 7+): it runs when Redis is at its memory limit. */
function atLimit(src: string): Script {
  return script(`#!lua flags=allow-oom\n${src}`);
}

const S_TOUCH = script(TOUCH);
const S_UPDATE = script(UPDATE);
const S_UPDATE_AT_LIMIT = atLimit(UPDATE);
const S_CREATE_PINNED = script(CREATE_PINNED);
const S_CREATE_PINNED_AT_LIMIT = atLimit(CREATE_PINNED);
const S_DELETE = script(DELETE);
const S_INDEX_ADD = script(INDEX_ADD);
const S_INDEX_PRUNE = script(INDEX_PRUNE);
const S_INDEX_REMOVE = script(INDEX_REMOVE);
const S_SWEEP_ADD = script(SWEEP_ADD);
const S_SWEEP_ADD_AT_LIMIT = atLimit(SWEEP_ADD);
const S_SWEEP_RECORD = script(SWEEP_RECORD);
const S_SWEEP_INDEX = script(SWEEP_INDEX);
const S_SWEEP_DROP = script(SWEEP_DROP);

/** A member of a user index: a session id (base64url SHA-256). Anything else is not ours. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** An index larger than this is not treated as ours by cleanup (a user never has that many sessions). */
const MAX_INDEX_MEMBERS = 100_000;
/** Due entries the background sweep handles per run. */
const SWEEP_BATCH = 200;

/** Lua's unpack() and the argument stack stay far below their limits with this many ids. */
const REMOVE_CHUNK = 500;

/** Redis reply-error codes (first word) that mean "our command is wrong", not "Redis is away". */
const BAD_COMMAND = /^(ERR|WRONGTYPE|NOSCRIPT|EXECABORT|NOPERM)\b/;

function toStoreError(e: unknown): SessionwardError {
  if (e instanceof SessionwardError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // The first word of a Redis error reply is the protocol's error code, not free text.
  if (/^OOM\b/.test(msg)) return new StoreMemoryError('session store out of memory', { cause: e });
  if (BAD_COMMAND.test(msg)) return new StoreError('redis: command failed', { cause: e });
  return new StoreUnavailableError('session store unavailable', { cause: e });
}

function infoField(info: string, name: string): string | null {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m ? m[1]!.trim() : null;
}

/**
 * Session store on Redis or Redis Cluster. See the module comment and docs/redis.md.
 *
 * @example
 * const store = new RedisStore({ client, prefix: 'myapp:sw:', commandTimeoutMs: 500 })
 */
export class RedisStore implements SessionStore {
  readonly name = 'redis';
  readonly #d: RedisDriver;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #wait: { replicas: number; timeoutMs: number } | undefined;
  readonly #grace: number;
  readonly #allowAllkeys: boolean;
  readonly #checkEvery: number;
  readonly #onEvent: ((e: RedisStoreEvent) => void) | undefined;
  #pass: CleanupPass | undefined;
  /** Serialises cleanup calls: they share the pass (its SCAN cursors). */
  #cleaning: Promise<unknown> = Promise.resolve();
  /** Eviction-policy check: when it last succeeded, the one in flight, and what it decided. */
  #checkedAt = 0;
  #checking: Promise<void> | undefined;
  #refusal: StoreEvictionPolicyError | undefined;
  /** Every master runs Redis 7+, so `allow-oom` scripts exist. */
  #scriptFlags = false;
  #lastWarning = '';
  #sweeping = false;
  #sweptAt = 0;
  readonly #stats: RedisStoreStats = { memoryRefusals: 0, writesAtLimit: 0 };

  constructor(options: RedisStoreOptions) {
    if (!options || !options.client) {
      throw new ConfigError(
        'RedisStore: `client` is required: install a driver (`npm i redis`, or `npm i ioredis`) and pass a connected client, ' +
          "e.g. `const client = await createClient({ url: 'redis://127.0.0.1:6379' }).connect()` (docs/redis.md)",
      );
    }
    this.#d = detectDriver(options.client);
    this.#prefix = options.prefix ?? 'sw:';
    this.#timeout = options.commandTimeoutMs ?? 1000;
    if (!(this.#timeout > 0) || !Number.isFinite(this.#timeout)) throw new ConfigError('RedisStore: commandTimeoutMs must be a positive number');
    if (this.#d.cluster && /[{}]/.test(this.#prefix)) {
      throw new ConfigError('RedisStore: a cluster prefix must not contain { or } (a hash tag would put every key in one slot)');
    }
    const w = options.waitForReplicas;
    if (w) {
      if (!Number.isInteger(w.replicas) || w.replicas < 1) throw new ConfigError('RedisStore: waitForReplicas.replicas must be an integer >= 1');
      // WAIT 0 blocks forever; a request must never hang on replication.
      if (!Number.isInteger(w.timeoutMs) || w.timeoutMs < 1) throw new ConfigError('RedisStore: waitForReplicas.timeoutMs must be an integer >= 1');
      this.#wait = { replicas: w.replicas, timeoutMs: w.timeoutMs };
    }
    this.#grace = options.cleanupGraceMs ?? 4 * this.#timeout + (this.#wait?.timeoutMs ?? 0) + 1000;
    if (!(this.#grace >= 0) || !Number.isFinite(this.#grace)) throw new ConfigError('RedisStore: cleanupGraceMs must be a non-negative number');
    this.#allowAllkeys = options.unsafeAllowAllkeysEviction === true;
    this.#checkEvery = options.policyCheckIntervalMs ?? 60_000;
    if (!(this.#checkEvery > 0) || !Number.isFinite(this.#checkEvery)) throw new ConfigError('RedisStore: policyCheckIntervalMs must be a positive number');
    this.#onEvent = options.onEvent;
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
    await this.#check();
    if (this.#refusal) throw this.#refusal;
  }

  /** Counters for metrics: memory refusals and writes accepted at the memory limit. */
  get stats(): Readonly<RedisStoreStats> {
    return { ...this.#stats };
  }

  /** The sorted set of pinned keys (records and user indexes) by the time they may be removed. */
  get expiryKey(): string {
    return `${this.#prefix}expiry`;
  }

  /** Which client library and mode was detected, for diagnostics. */
  get driver(): string {
    return this.#d.kind;
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
    const s = await this.#send(key, ['GET', key]);
    if (s == null) return null;
    const r = decodeRecord(id, String(s));
    return r.expiresAt <= now ? null : r;
  }

  async create(record: SessionRecord): Promise<boolean> {
    const value = encodeRecord(record);
    // Index first: the index may over-approximate (stale ids are filtered on read), but a live
    // session must never exist without its index entry, or deleteByUser could miss it (SEC-38).
    if (record.userId !== null) await this.#indexAdd(record.userId, record.id, record.absoluteExpiresAt);
    const key = this.sessionKey(record.id);
    if (record.pinned) {
      // Registered for the sweep before it exists without a TTL, so it can never be left behind.
      await this.#pin(`s:${record.id}`, record.expiresAt, true);
      const ok = await this.#eval(this.#scriptFlags ? S_CREATE_PINNED_AT_LIMIT : S_CREATE_PINNED, key, [String(Date.now()), value]);
      if (Number(ok) !== 1) return false;
    } else {
      const ok = await this.#send(key, ['SET', key, value, 'NX', 'PXAT', String(record.expiresAt)]);
      if (ok == null) return false;
    }
    await this.#durable(key);
    return true;
  }

  async update(record: SessionRecord, expectedVersion: number, now: number): Promise<boolean> {
    if (record.version !== expectedVersion + 1) throw new InvalidInputError('update: record.version must be expectedVersion + 1');
    // The contract caps expiresAt at the absolute end; enforced here, not only by callers (SEC-11).
    const expiresAt = Math.min(record.expiresAt, record.absoluteExpiresAt);
    const value = encodeRecord(expiresAt === record.expiresAt ? record : { ...record, expiresAt });
    const key = this.sessionKey(record.id);
    const pinned = record.pinned === true;
    const args = [
      String(expectedVersion), String(now), value, String(expiresAt),
      record.userId === null ? '0' : '1', record.userId ?? '', String(record.absoluteExpiresAt), '0', pinned ? '1' : '0', '0',
    ];
    if (pinned) await this.#pin(`s:${record.id}`, expiresAt, true);
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
      await this.#durable(key);
      // Hygiene only: a stale entry would be filtered on read anyway.
      if (oldUser !== null) await this.#send(this.userKey(oldUser), ['ZREM', this.userKey(oldUser), record.id]);
    } else if (record.rotatedTo) {
      await this.#durable(key);
    }
    return true;
  }

  /**
   * UPDATE, and at the memory limit once more as an allow-oom script that only writes what does
   * not grow (a logout fence, a tombstone) or is pinned: logout and revocation work on a full Redis.
   */
  async #updateScript(key: string, args: string[], pinned: boolean): Promise<unknown> {
    // Pinned (revocation state): always allowed at the limit; the script never lets others grow.
    if (pinned && this.#scriptFlags) return this.#eval(S_UPDATE_AT_LIMIT, key, [...args.slice(0, -1), '1']);
    try {
      return await this.#eval(S_UPDATE, key, args);
    } catch (e) {
      if (!(e instanceof StoreMemoryError) || !this.#scriptFlags) throw e;
      const res = (await this.#atLimit(S_UPDATE_AT_LIMIT, key, args)) as unknown[];
      if (Array.isArray(res) && Number(res[0]) === 3) throw e;
      return res;
    }
  }

  async #atLimit(s: Script, key: string, args: string[]): Promise<unknown> {
    const res = await this.#eval(s, key, [...args.slice(0, -1), '1']);
    if (!Array.isArray(res) || Number(res[0]) !== 3) this.#stats.writesAtLimit++;
    return res;
  }

  /** Register a pinned key (`s:<id>` or `u:<userId>`) for the sweep, never moving it earlier. */
  async #pin(member: string, until: number, atLimit: boolean): Promise<void> {
    const x = this.expiryKey;
    await this.#eval(atLimit && this.#scriptFlags ? S_SWEEP_ADD_AT_LIMIT : S_SWEEP_ADD, x, [String(until), member]);
    this.#sweepSoon();
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean> {
    const key = this.sessionKey(id);
    const e36 = encodeInt(expiresAt, 'expiresAt');
    const res = await this.#eval(S_TOUCH, key, [String(now), encodeInt(lastSeenAt, 'lastSeenAt'), String(expiresAt), e36]);
    return Number(res) === 1;
  }

  async delete(id: string): Promise<void> {
    const key = this.sessionKey(id);
    const res = (await this.#eval(S_DELETE, key, [''])) as unknown[];
    if (!Array.isArray(res) || Number(res[0]) !== 1) return;
    await this.#durable(key);
    if (res[1] != null) await this.#send(this.userKey(String(res[1])), ['ZREM', this.userKey(String(res[1])), id]);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const ukey = this.userKey(userId);
    // O(log N + M) in the user's own set: independent of how many sessions Redis holds.
    // Entries past their absolute expiry are dead for certain: prune them so an active user's
    // index does not grow without bound between cleanup runs.
    const [, ids] = (await Promise.all([
      this.#send(ukey, ['ZREMRANGEBYSCORE', ukey, '-inf', String(now)]),
      this.#send(ukey, ['ZRANGEBYSCORE', ukey, `(${now}`, '+inf']),
    ])) as [unknown, string[]];
    if (!ids || ids.length === 0) return [];
    const keys = ids.map((id) => this.sessionKey(id));
    let values: unknown[];
    if (this.#d.cluster) {
      // Session keys live in different slots; the clients pipeline these per node.
      values = await Promise.all(keys.map((k) => this.#send(k, ['GET', k])));
    } else {
      values = (await this.#send(keys[0], ['MGET', ...keys])) as unknown[];
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
    const ids = ((await this.#send(ukey, ['ZRANGE', ukey, '0', '-1'])) as string[]) ?? [];
    const targets = ids.filter((id) => id !== exceptId);
    if (targets.length === 0) return { counted: 0, deleted: 0 };
    const results = await Promise.all(
      targets.map(async (id) => {
        const key = this.sessionKey(id);
        const res = (await this.#eval(S_DELETE, key, [userId])) as unknown[];
        const deleted = Array.isArray(res) && Number(res[0]) === 1;
        if (deleted) await this.#durable(key);
        // Count the user's live sessions, not their rotation tombstones or pending logins.
        return { id, deleted, counted: deleted && res[1] != null && String(res[1]) === userId && Number(res[2]) !== 1 };
      }),
    );
    // ZREM only what we actually deleted, never DEL the key: an id whose session key is missing
    // may be a login in flight (index entry written, SET NX not yet), and dropping its entry would
    // hide that session from the next "log out everywhere" (SEC-38). cleanup() prunes real strays.
    const gone = results.filter((r) => r.deleted).map((r) => r.id);
    for (let i = 0; i < gone.length; i += REMOVE_CHUNK) await this.#send(ukey, ['ZREM', ukey, ...gone.slice(i, i + REMOVE_CHUNK)]);
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
          const [n, left] = ((await this.#eval(S_INDEX_PRUNE, ukey, [String(now), String(max - removed - suspects.length)])) as unknown[]).map(Number);
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
            const n = await this.#sweep(now, Math.min(max - removed, 1000));
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
    if (!this.#d.ready()) throw new StoreUnavailableError('session store unavailable');
    const masters = await this.#bounded(() => this.#d.masters(), this.#timeout);
    return { nodes: masters.map((master) => ({ master, cursor: '0', done: false })), keys: [] };
  }

  async #nextIndexKey(pass: CleanupPass, max: number): Promise<string | undefined> {
    // Glob-escape the prefix: a `*` or `[` in it must not match another store's keys.
    const pattern = `${this.#prefix.replace(/[*?[\]\\]/g, '\\$&')}u:*`;
    const count = String(Math.min(Math.max(max, 100), 1000));
    for (;;) {
      const key = pass.keys.shift();
      if (key !== undefined) return key;
      const node = pass.nodes.find((x) => !x.done);
      if (!node) return undefined;
      if (!this.#d.ready()) throw new StoreUnavailableError('session store unavailable');
      const reply = (await this.#bounded(
        () => node.master.send(['SCAN', node.cursor, 'MATCH', pattern, 'COUNT', count, 'TYPE', 'zset']),
        this.#timeout,
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
    const n = Number(await this.#send(ukey, ['ZCARD', ukey]));
    if (!(n > 0) || n > MAX_INDEX_MEMBERS) return null;
    // RESP2 replies a flat [member, score, ...] list, RESP3 clients a list of pairs.
    const flat = ((await this.#send(ukey, ['ZRANGE', ukey, '0', '-1', 'WITHSCORES'])) as unknown[]).flat().map(String);
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
      const exists = await Promise.all(chunk.map((id) => this.#send(this.sessionKey(id), ['EXISTS', this.sessionKey(id)])));
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
    if (this.#grace > 0) await sleep(this.#grace);
    const fenced = await Promise.all(
      suspects.map(async (s) => {
        const key = this.sessionKey(s.id);
        if (s.score <= now) return true;
        return (await this.#send(key, ['SET', key, CLEANUP_FENCE_VALUE, 'NX', 'PXAT', String(s.score)])) != null;
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
        removed += Number(await this.#eval(S_INDEX_REMOVE, ukey, ids.slice(i, i + REMOVE_CHUNK)));
      }
    }
    return removed;
  }

  async #indexAdd(userId: string, id: string, absoluteExpiresAt: number): Promise<void> {
    const ukey = this.userKey(userId);
    await this.#pin(`u:${userId}`, absoluteExpiresAt, false);
    await this.#eval(S_INDEX_ADD, ukey, [String(Date.now()), String(absoluteExpiresAt), id]);
    await this.#durable(ukey);
  }

  /** A background sweep after pinned writes, at most one at a time and one per second. */
  #sweepSoon(): void {
    const t = Date.now();
    if (this.#sweeping || t - this.#sweptAt < 1000) return;
    this.#sweeping = true;
    this.#sweptAt = t;
    this.#sweep(t, SWEEP_BATCH)
      .catch(() => undefined) // hygiene only: the next write or cleanup() tries again
      .finally(() => {
        this.#sweeping = false;
      });
  }

  /**
   * Remove pinned keys whose time has passed: records past their expiresAt, user indexes whose
   * every entry has ended. Readers never depend on it (every read compares expiresAt), so it is
   * memory hygiene only. Returns the number of sweep entries handled.
   */
  async #sweep(now: number, limit: number): Promise<number> {
    const x = this.expiryKey;
    const due = ((await this.#send(x, ['ZRANGEBYSCORE', x, '-inf', String(now), 'LIMIT', '0', String(limit)])) as unknown[]).map(String);
    if (due.length === 0) return 0;
    const drop: string[] = [];
    await Promise.all(
      due.map(async (m) => {
        const res = await this.#eval(m.startsWith('u:') ? S_SWEEP_INDEX : S_SWEEP_RECORD, this.#prefix + m, [String(now)]);
        if (Array.isArray(res)) await this.#eval(S_SWEEP_ADD, x, [String(res[1]), m]);
        else drop.push(m);
      }),
    );
    for (let i = 0; i < drop.length; i += REMOVE_CHUNK) await this.#eval(S_SWEEP_DROP, x, [String(now), ...drop.slice(i, i + REMOVE_CHUNK)]);
    return due.length;
  }

  async #durable(key: string): Promise<void> {
    const w = this.#wait;
    if (!w) return;
    const acked = await this.#bounded(() => this.#d.wait(key, w.replicas, w.timeoutMs), this.#timeout + w.timeoutMs);
    if (Number(acked) < w.replicas) throw new StoreUnavailableError('session store write not acknowledged by replicas');
  }

  async #eval(s: Script, key: string, args: string[]): Promise<unknown> {
    try {
      return await this.#send(key, ['EVALSHA', s.sha, '1', key, ...args]);
    } catch (e) {
      // First use on this node (or after SCRIPT FLUSH / failover): EVAL also caches the script.
      if (e instanceof StoreError && /^NOSCRIPT\b/.test(errMessage(e.cause))) {
        return this.#send(key, ['EVAL', s.src, '1', key, ...args]);
      }
      throw e;
    }
  }

  #send(key: string | undefined, args: string[]): Promise<unknown> {
    // Fail fast instead of letting a disconnected client queue commands behind a dead socket.
    if (!this.#d.ready()) return Promise.reject(new StoreUnavailableError('session store unavailable'));
    if (this.#refusal) return Promise.reject(this.#refusal);
    if (this.#checkedAt === 0) return this.#check().then(() => this.#send(key, args));
    if (Date.now() - this.#checkedAt > this.#checkEvery) void this.#check().catch(() => undefined);
    return this.#bounded(() => this.#d.send(key, args), this.#timeout).catch((e: unknown) => {
      if (e instanceof StoreMemoryError) {
        this.#stats.memoryRefusals++;
        this.#emit({ type: 'store.memory_pressure', at: new Date().toISOString(), store: 'redis', command: args[0] === 'EVALSHA' || args[0] === 'EVAL' ? 'script' : args[0]! });
      }
      throw e;
    });
  }

  /** One eviction-policy check at a time; resolves when done (the decision is in #refusal). */
  #check(): Promise<void> {
    this.#checking ??= this.#checkNow().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #checkNow(): Promise<void> {
    const masters = await this.#bounded(() => this.#d.masters(), this.#timeout);
    const nodes = await Promise.all(masters.map((m) => this.#nodePolicy(m)));
    let refusal: StoreEvictionPolicyError | undefined;
    const warnings: string[] = [];
    for (const n of nodes) {
      const risk = evictionRisk(n.policy);
      const refused = risk === 'revocation' && !this.#allowAllkeys;
      if (refused) {
        refusal ??= new StoreEvictionPolicyError(
          `redis ${n.node}: maxmemory-policy ${n.policy} can evict revocation state (logged-out credentials could be accepted again); ` +
            'use noeviction or a volatile-* policy, or set unsafeAllowAllkeysEviction (docs/redis.md, "Eviction")',
        );
      }
      if (risk !== 'none') {
        warnings.push(`${n.node}:${n.policy}`);
        // Once per node and policy unless it is a refusal or a risk to revocation (then every check).
        const key = `${n.node}:${n.policy}`;
        if (risk === 'revocation' || risk === 'unknown' || !this.#lastWarning.split(',').includes(key)) {
          this.#emit({ type: 'store.eviction_policy', at: new Date().toISOString(), store: 'redis', node: n.node, policy: n.policy, maxmemory: n.maxmemory, risk, refused });
        }
      }
    }
    this.#lastWarning = warnings.join(',');
    this.#scriptFlags = nodes.every((n) => n.major >= 7);
    this.#refusal = refusal;
    this.#checkedAt = Date.now();
  }

  async #nodePolicy(m: MasterSender): Promise<NodePolicy> {
    try {
      const mem = String(await this.#bounded(() => m.send(['INFO', 'memory']), this.#timeout));
      const srv = String(await this.#bounded(() => m.send(['INFO', 'server']), this.#timeout));
      const max = infoField(mem, 'maxmemory');
      return {
        node: m.address,
        policy: infoField(mem, 'maxmemory_policy'),
        maxmemory: max === null ? null : Number(max),
        major: parseInt(infoField(srv, 'redis_version') ?? '0', 10) || 0,
      };
    } catch (e) {
      // INFO may be renamed or denied (managed services, ACLs): we cannot tell, so warn and go on.
      if (e instanceof StoreUnavailableError) throw e;
      return { node: m.address, policy: null, maxmemory: null, major: 0 };
    }
  }

  #emit(e: RedisStoreEvent): void {
    try {
      this.#onEvent?.(e);
    } catch {
      // A broken listener must not turn a store call into a failure.
    }
  }

  #bounded<T>(fn: () => Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreUnavailableError('session store timed out')), ms);
      let p: Promise<T>;
      try {
        p = fn();
      } catch (e) {
        clearTimeout(timer);
        reject(toStoreError(e));
        return;
      }
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(toStoreError(e));
        },
      );
    });
  }
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
