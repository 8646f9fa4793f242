/**
 * Internal: the Redis store's command layer — every command the store sends goes through `send`
 * (bounded by the store's own timer, refused while the eviction policy is, mapped to typed
 * errors) and every script through `eval` (EVALSHA, falling back to EVAL on NOSCRIPT).
 */
import { createHash } from 'node:crypto';
import { SessionwardError, StoreError, StoreMemoryError, StoreUnavailableError } from '../errors.js';
import type { RedisDriver } from './redis-driver.js';
import type { EvictionCheck, EvictionRisk } from './redis-eviction.js';

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

export interface Script {
  src: string;
  sha: string;
}

export function script(src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') };
}

/** The same script flagged `allow-oom` (Redis 7+): it runs when Redis is at its memory limit. */
export function atLimit(src: string): Script {
  return script(`#!lua flags=allow-oom\n${src}`);
}

/** Redis reply-error codes (first word) that mean "our command is wrong", not "Redis is away". */
const BAD_COMMAND = /^(ERR|WRONGTYPE|NOSCRIPT|EXECABORT|NOPERM)\b/;

function toStoreError(e: unknown): SessionwardError {
  if (e instanceof SessionwardError) return e;
  const msg = errMessage(e);
  // The first word of a Redis error reply is the protocol's error code, not free text.
  if (/^OOM\b/.test(msg)) return new StoreMemoryError('session store out of memory', { cause: e });
  if (BAD_COMMAND.test(msg)) return new StoreError('redis: command failed', { cause: e });
  return new StoreUnavailableError('session store unavailable', { cause: e });
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Run `fn`, rejecting with `StoreUnavailableError` after `ms` and with typed errors on failure. */
export function bounded<T>(fn: () => Promise<T>, ms: number): Promise<T> {
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

export class RedisConn {
  readonly stats: RedisStoreStats = { memoryRefusals: 0, writesAtLimit: 0 };

  constructor(
    readonly d: RedisDriver,
    readonly timeout: number,
    readonly policy: EvictionCheck,
    readonly emit: (e: RedisStoreEvent) => void,
    readonly wait: { replicas: number; timeoutMs: number } | undefined,
  ) {}

  eval(s: Script, key: string, args: string[]): Promise<unknown> {
    return this.evalKeys(s, [key], args);
  }

  /** A script over several keys: standalone only, or keys sharing one cluster slot. */
  async evalKeys(s: Script, keys: string[], args: string[]): Promise<unknown> {
    const n = String(keys.length);
    try {
      return await this.send(keys[0], ['EVALSHA', s.sha, n, ...keys, ...args]);
    } catch (e) {
      // First use on this node (or after SCRIPT FLUSH / failover): EVAL also caches the script.
      if (e instanceof StoreError && /^NOSCRIPT\b/.test(errMessage(e.cause))) {
        return this.send(keys[0], ['EVAL', s.src, n, ...keys, ...args]);
      }
      throw e;
    }
  }

  send(key: string | undefined, args: string[]): Promise<unknown> {
    // Fail fast instead of letting a disconnected client queue commands behind a dead socket.
    if (!this.d.ready()) return Promise.reject(new StoreUnavailableError('session store unavailable'));
    const policy = this.policy;
    if (policy.refusal) return Promise.reject(policy.refusal);
    if (policy.checkedAt === 0) return policy.check().then(() => this.send(key, args));
    if (policy.stale(Date.now())) void policy.check().catch(() => undefined);
    return bounded(() => this.d.send(key, args), this.timeout).catch((e: unknown) => {
      if (e instanceof StoreMemoryError) {
        this.stats.memoryRefusals++;
        this.emit({ type: 'store.memory_pressure', at: new Date().toISOString(), store: 'redis', command: args[0] === 'EVALSHA' || args[0] === 'EVAL' ? 'script' : args[0]! });
      }
      throw e;
    });
  }

  /** `waitForReplicas`: WAIT on the master that took the write of `key`, or reject. */
  async durable(key: string): Promise<void> {
    const w = this.wait;
    if (!w) return;
    const acked = await bounded(() => this.d.wait(key, w.replicas, w.timeoutMs), this.timeout + w.timeoutMs);
    if (Number(acked) < w.replicas) throw new StoreUnavailableError('session store write not acknowledged by replicas');
  }
}
