/**
 * Internal: one tiny shim over node-redis 5/6 and ioredis 5/6 (standalone and cluster), chosen once
 * at construction so the hot path is a direct call with no per-call shape checks. Not exported from
 * the package (only the client types below are, through stores/redis).
 */
import { ConfigError } from '../errors.js';

export type DriverKind = 'node-redis' | 'node-redis-cluster' | 'ioredis' | 'ioredis-cluster';

export interface RedisDriver {
  readonly kind: DriverKind;
  readonly cluster: boolean;
  /** Send one command, routed by `key` in cluster mode. Resolves with the raw reply. */
  send(key: string | undefined, args: string[]): Promise<unknown>;
  /**
   * WAIT on the connection that wrote `key` (WAIT counts the writes of its own connection, so it
   * must go to the master owning the key's slot, over the same socket the write used).
   */
  wait(key: string, replicas: number, timeoutMs: number): Promise<number>;
  /** False when the client knows it cannot reach Redis right now (fail fast, no queueing). */
  ready(): boolean;
  /**
   * One sender per master (standalone: the client itself), for keyless commands that must visit
   * the whole keyspace (SCAN in `cleanup`). Read from the client's current view of the cluster.
   */
  masters(): Promise<MasterSender[]>;
}

export interface MasterSender {
  /** `host:port`, for diagnostics. */
  readonly address: string;
  send(args: string[]): Promise<unknown>;
}

// The client types are the few members the driver touches, written structurally: the libraries'
// own generics (modules, RESP version, type mapping) differ between majors and never line up, so
// naming their classes would reject a client of the other major, or of a differently configured
// instance. Methods are declared as methods on purpose: their parameters are then compared
// bivariantly, which lets the libraries' wider signatures match.

/** A node-redis 5 or 6 client (`createClient()`), connected. */
export interface NodeRedisClientLike {
  readonly isReady: boolean;
  sendCommand(args: string[]): Promise<unknown>;
}

/** A node-redis 5 or 6 cluster (`createCluster()`), connected. */
export interface NodeRedisClusterLike {
  readonly isOpen: boolean;
  readonly masters: ReadonlyArray<{ readonly address: string }>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  getSlotMaster(slot: number): { readonly address: string };
  nodeClient(master: { readonly address: string }): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
}

/** An ioredis 5 or 6 connection (`new Redis()`). */
export interface IoredisLike {
  readonly isCluster: boolean;
  readonly status: string;
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** An ioredis 5 or 6 cluster (`new Cluster()`). */
export interface IoredisClusterLike extends IoredisLike {
  readonly slots: ReadonlyArray<ReadonlyArray<string> | undefined>;
  nodes(role: 'master'): ReadonlyArray<IoredisLike & { readonly options: { readonly host?: string; readonly port?: number } }>;
}

/** Any client the store accepts: node-redis 5/6 or ioredis 5/6, standalone or cluster. */
export type RedisClientLike = NodeRedisClientLike | NodeRedisClusterLike | IoredisLike | IoredisClusterLike;

export function detectDriver(client: RedisClientLike): RedisDriver {
  // Checked at run time too: JavaScript callers (and `as` casts) bypass the types.
  if (client == null || typeof client !== 'object') throw new ConfigError('RedisStore: `client` must be a node-redis or ioredis client');
  const c = client as unknown as Record<string, unknown>;
  // ioredis: Redis and Cluster both expose call() and an isCluster flag.
  if (typeof c.call === 'function' && typeof c.isCluster === 'boolean') {
    return c.isCluster ? ioredisCluster(client as IoredisClusterLike) : ioredisStandalone(client as IoredisLike);
  }
  // node-redis: the cluster has getSlotMaster(); a client has sendCommand(args) and isReady.
  if (typeof c.getSlotMaster === 'function' && typeof c.sendCommand === 'function') return nodeRedisCluster(client as NodeRedisClusterLike);
  if (typeof c.sendCommand === 'function' && 'isReady' in c) return nodeRedisStandalone(client as NodeRedisClientLike);
  throw new ConfigError('RedisStore: unsupported client; pass a node-redis 5/6 (createClient/createCluster) or ioredis 5/6 (Redis/Cluster) instance');
}

function nodeRedisStandalone(c: NodeRedisClientLike): RedisDriver {
  return {
    kind: 'node-redis',
    cluster: false,
    send: (_key, args) => c.sendCommand(args),
    wait: (_key, n, t) => c.sendCommand(['WAIT', String(n), String(t)]) as Promise<number>,
    ready: () => c.isReady === true,
    masters: async () => [{ address: 'standalone', send: (args) => c.sendCommand(args) }],
  };
}

function nodeRedisCluster(c: NodeRedisClusterLike): RedisDriver {
  return {
    kind: 'node-redis-cluster',
    cluster: true,
    // isReadonly=false: always the master, so a read never sees a replica lagging behind a logout.
    send: (key, args) => c.sendCommand(key, false, args),
    // Straight to the node client that owns the key's slot, i.e. the socket the write used (the
    // write, redirected or not, left the slot map pointing there). Not the cluster's
    // sendCommand: node-redis 6 applies WAIT's command tips (all shards, minimum reply) and fans
    // it out to every master it knows, so after a failover a stale entry (the old master, back as
    // a replica) refused every WAIT and no durable write was ever acknowledged again.
    wait: async (key, n, t) => {
      const node = await c.nodeClient(c.getSlotMaster(keySlot(key)));
      return node.sendCommand(['WAIT', String(n), String(t)]) as Promise<number>;
    },
    ready: () => c.isOpen === true,
    masters: () =>
      Promise.all(
        c.masters.map(async (m) => {
          const node = await c.nodeClient(m);
          return { address: String(m.address), send: (args: string[]) => node.sendCommand(args) };
        }),
      ),
  };
}

function ioredisReady(status: string): boolean {
  // 'connecting'/'connect'/'wait' are allowed through (the command is queued briefly, bounded by
  // our own timer); a client that lost its connection fails fast instead of queueing.
  return status !== 'reconnecting' && status !== 'close' && status !== 'end';
}

function ioredisSend(c: IoredisLike): (args: string[]) => Promise<unknown> {
  return (args) => c.call(args[0]!, ...args.slice(1));
}

function ioredisStandalone(c: IoredisLike): RedisDriver {
  const send = ioredisSend(c);
  return {
    kind: 'ioredis',
    cluster: false,
    send: (_key, args) => send(args),
    wait: (_key, n, t) => c.call('WAIT', String(n), String(t)) as Promise<number>,
    ready: () => ioredisReady(c.status),
    masters: async () => [{ address: 'standalone', send }],
  };
}

function ioredisCluster(c: IoredisClusterLike): RedisDriver {
  const send = ioredisSend(c);
  const address = (r: { readonly options: { readonly host?: string; readonly port?: number } }): string => `${r.options.host}:${r.options.port}`;
  return {
    kind: 'ioredis-cluster',
    cluster: true,
    send: (_key, args) => send(args),
    wait: async (key, n, t) => {
      // ioredis routes keyless commands to a random node, so find the slot's master ourselves.
      // nodes() returns the very connections ioredis uses for commands, hence the same socket.
      const owner = c.slots[keySlot(key)]?.[0];
      const node = owner ? c.nodes('master').find((r) => address(r) === owner) : undefined;
      if (!node) throw new Error('no master known for slot');
      return node.call('WAIT', String(n), String(t)) as Promise<number>;
    },
    ready: () => ioredisReady(c.status),
    masters: async () => c.nodes('master').map((r) => ({ address: address(r), send: ioredisSend(r) })),
  };
}

// CRC16/XMODEM as specified by the Redis Cluster spec (https://redis.io/docs/reference/cluster-spec/).
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/** Cluster hash slot of a key, honouring `{hash tags}`. */
export function keySlot(key: string): number {
  let k = key;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) k = key.slice(open + 1, close);
  }
  const bytes = Buffer.from(k, 'utf8');
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc & 16383;
}
