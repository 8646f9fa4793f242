/**
 * Test/bench harness: the four Redis client packages the store supports (node-redis 5 and 6,
 * ioredis 5 and 6), each able to open a standalone connection or a cluster, so a suite can run
 * once per package with `describe.each(REDIS_LIBS)`. The previous majors are installed under npm
 * aliases (`redis5`, `ioredis5`).
 *
 * Each package module is checked, without a cast, against the structural shape below whose clients
 * are the store's `*Like` types: a compile-time proof that every major's own client types fit the
 * store's `client` option (redis-store.test.ts also passes them to `new RedisStore` directly).
 */
import * as redis6 from 'redis';
import * as redis5 from 'redis5';
import * as ioredis6 from 'ioredis';
import * as ioredis5 from 'ioredis5';
import type { IoredisClusterLike, IoredisLike, NodeRedisClientLike, NodeRedisClusterLike, RedisClientLike } from '../../src/stores/redis.js';

export interface Connected {
  client: RedisClientLike;
  /** One raw command through this client; on a cluster routed by its first key, to the master. */
  command(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Client connect timeout and upper bound of its reconnect delay (ms). Default 1000. */
  connectTimeoutMs?: number;
}

export interface RedisLib {
  /** `redis 6`, `redis 5`, `ioredis 6`, `ioredis 5`. */
  readonly name: string;
  /** Short id for key prefixes. */
  readonly id: string;
  /** The store's `driver` name for a standalone client of this package. */
  readonly driver: 'node-redis' | 'ioredis';
  /** Connected to 127.0.0.1:`port`, offline queue off (the setting docs/redis.md recommends). */
  connect(port: number, options?: ConnectOptions): Promise<Connected>;
  /** Connected to the cluster one of whose nodes listens on 127.0.0.1:`port`. */
  connectCluster(port: number): Promise<Connected>;
}

// What the harness calls on each package, written structurally (the two majors' own generics do
// not unify); each package module is checked against it where REDIS_LIBS is built.
interface Lifecycle {
  on(event: 'error', listener: (err: Error) => void): unknown;
  connect(): Promise<unknown>;
}
interface NodeRedisSocket {
  connectTimeout: number;
  reconnectStrategy: () => number;
}
interface NodeRedisModule {
  createClient(options: { url: string; disableOfflineQueue?: boolean; socket?: NodeRedisSocket }): NodeRedisClientLike & Lifecycle & { destroy(): void };
  createCluster(options: {
    rootNodes: Array<{ url: string }>;
    defaults?: { disableOfflineQueue?: boolean; socket?: NodeRedisSocket };
  }): NodeRedisClusterLike & Lifecycle & { destroy(): void };
}
type IoredisOptions = Record<string, unknown> & { lazyConnect: boolean };
interface IoredisModule {
  Redis: new (options: IoredisOptions & { host?: string; port: number }) => IoredisLike & Lifecycle & { disconnect(): void };
  Cluster: new (nodes: Array<{ host: string; port: number }>, options: IoredisOptions) => IoredisClusterLike & Lifecycle & { disconnect(): void };
}

// Node-redis and ioredis options differ in name only between majors, so one builder serves both.
function nodeRedis(name: string, id: string, lib: NodeRedisModule): RedisLib {
  const socket = (timeout: number): { connectTimeout: number; reconnectStrategy: () => number } => ({
    connectTimeout: timeout,
    reconnectStrategy: () => Math.min(100, timeout),
  });
  return {
    name,
    id,
    driver: 'node-redis',
    async connect(port, { connectTimeoutMs = 1000 } = {}) {
      const c = lib.createClient({ url: `redis://127.0.0.1:${port}`, disableOfflineQueue: true, socket: socket(connectTimeoutMs) });
      c.on('error', () => {});
      await c.connect();
      return { client: c, command: (args) => c.sendCommand(args), close: async () => void c.destroy() };
    },
    async connectCluster(port) {
      const c = lib.createCluster({
        rootNodes: [{ url: `redis://127.0.0.1:${port}` }],
        defaults: { disableOfflineQueue: true, socket: socket(1000) },
      });
      c.on('error', () => {});
      await c.connect();
      return { client: c, command: (args) => c.sendCommand(args[1], false, args), close: async () => void c.destroy() };
    },
  };
}

function ioredis(name: string, id: string, lib: IoredisModule): RedisLib {
  const retry = (timeout: number): (() => number) => () => Math.min(100, timeout);
  return {
    name,
    id,
    driver: 'ioredis',
    async connect(port, { connectTimeoutMs = 1000 } = {}) {
      const c = new lib.Redis({
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: connectTimeoutMs,
        retryStrategy: retry(connectTimeoutMs),
      });
      c.on('error', () => {});
      await c.connect();
      return { client: c, command: ([cmd, ...rest]) => c.call(cmd!, ...rest), close: async () => c.disconnect() };
    },
    async connectCluster(port) {
      const c = new lib.Cluster([{ host: '127.0.0.1', port }], {
        lazyConnect: true,
        // On: the failover test keeps writing while the cluster re-forms, and ioredis holds
        // commands only until its slots are refreshed (the store's own timer bounds each call).
        enableOfflineQueue: true,
        slotsRefreshInterval: 500,
        slotsRefreshTimeout: 1000,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        clusterRetryStrategy: () => 100,
        redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 500 },
      });
      c.on('error', () => {});
      await c.connect();
      return { client: c, command: ([cmd, ...rest]) => c.call(cmd!, ...rest), close: async () => c.disconnect() };
    },
  };
}

/** Newest major first: the one a fresh `npm install redis` / `npm install ioredis` gets. */
export const REDIS_LIBS: readonly RedisLib[] = [
  nodeRedis('redis 6', 'nr6', redis6),
  nodeRedis('redis 5', 'nr5', redis5),
  ioredis('ioredis 6', 'io6', ioredis6),
  ioredis('ioredis 5', 'io5', ioredis5),
];

/** `describe.each(EACH_REDIS_LIB)('... (%s)', (_name, lib) => ...)`: the name prints unquoted. */
export const EACH_REDIS_LIB: ReadonlyArray<readonly [string, RedisLib]> = REDIS_LIBS.map((lib) => [lib.name, lib] as const);
