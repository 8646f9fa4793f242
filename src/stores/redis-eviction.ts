/**
 * Internal: the eviction-policy check of the Redis store (issue 19, docs/redis.md "Eviction").
 *
 * `INFO memory` and `INFO server` on every master, before the store's first command and again
 * every `policyCheckIntervalMs` in the background. An `allkeys-*` policy can evict revocation
 * state (denylist entries, cut-offs, user indexes), so it is refused — every command rejects with
 * `StoreEvictionPolicyError` — unless the application opted out by name; other risky or unreadable
 * policies are warned about as events. The same pass learns whether every master runs Redis 7+,
 * i.e. whether `allow-oom` scripts exist.
 */
import { StoreEvictionPolicyError, StoreUnavailableError } from '../errors.js';
import type { MasterSender, RedisDriver } from './redis-driver.js';
import { bounded, type RedisStoreEvent } from './redis-conn.js';

/** What the eviction policy can cost: nothing, early sign-outs, or revocation state. */
export type EvictionRisk = 'none' | 'sessions' | 'revocation' | 'unknown';

/** Shared by the store and the tests: what each `maxmemory-policy` can evict of ours. */
export function evictionRisk(policy: string | null): EvictionRisk {
  if (policy === null) return 'unknown';
  if (policy === 'noeviction') return 'none';
  if (policy.startsWith('volatile-')) return 'sessions';
  if (policy.startsWith('allkeys-')) return 'revocation';
  return 'unknown';
}

interface NodePolicy {
  node: string;
  policy: string | null;
  maxmemory: number | null;
  major: number;
}

function infoField(info: string, name: string): string | null {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m ? m[1]!.trim() : null;
}

export interface EvictionCheckOptions {
  allowAllkeys: boolean;
  checkEvery: number;
  timeout: number;
  emit: (e: RedisStoreEvent) => void;
}

/** The store's view of the servers' eviction policies: checked, refused, or warned about. */
export class EvictionCheck {
  /** When a check last succeeded (0: never, so the first command waits for one). */
  checkedAt = 0;
  /** Set while an `allkeys-*` policy is refused: every command rejects with it. */
  refusal: StoreEvictionPolicyError | undefined;
  /** Every master runs Redis 7+, so `allow-oom` scripts exist. */
  scriptFlags = false;
  #checking: Promise<void> | undefined;
  #lastWarning = '';
  readonly #d: RedisDriver;
  readonly #o: EvictionCheckOptions;

  constructor(d: RedisDriver, o: EvictionCheckOptions) {
    this.#d = d;
    this.#o = o;
  }

  /** True when the last check is older than the interval (the caller re-checks in the background). */
  stale(now: number): boolean {
    return now - this.checkedAt > this.#o.checkEvery;
  }

  /** One check at a time; resolves when done (the decision is in `refusal`). */
  check(): Promise<void> {
    this.#checking ??= this.#checkNow().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #checkNow(): Promise<void> {
    const masters = await bounded(() => this.#d.masters(), this.#o.timeout);
    const nodes = await Promise.all(masters.map((m) => this.#nodePolicy(m)));
    let refusal: StoreEvictionPolicyError | undefined;
    const warnings: string[] = [];
    for (const n of nodes) {
      const risk = evictionRisk(n.policy);
      const refused = risk === 'revocation' && !this.#o.allowAllkeys;
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
          this.#o.emit({ type: 'store.eviction_policy', at: new Date().toISOString(), store: 'redis', node: n.node, policy: n.policy, maxmemory: n.maxmemory, risk, refused });
        }
      }
    }
    this.#lastWarning = warnings.join(',');
    this.scriptFlags = nodes.every((n) => n.major >= 7);
    this.refusal = refusal;
    this.checkedAt = Date.now();
  }

  async #nodePolicy(m: MasterSender): Promise<NodePolicy> {
    try {
      const mem = String(await bounded(() => m.send(['INFO', 'memory']), this.#o.timeout));
      const srv = String(await bounded(() => m.send(['INFO', 'server']), this.#o.timeout));
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
}
