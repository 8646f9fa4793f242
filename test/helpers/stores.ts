/**
 * Every store we ship, on its real server, behind one factory shape — for tests that check the
 * engine's behaviour (not the store contract) on each of them. Each `open()` gives an isolated
 * store (own prefix, table or file); `close()` releases what the factory opened.
 */
import { randomBytes } from 'node:crypto';
import { createClient, createCluster } from 'redis';
import pg from 'pg';
import { MemoryStore, type SessionStore } from '../../src/index.js';
import { SqliteStore, type SqliteDriverName } from '../../src/stores/sqlite.js';
import { RedisStore } from '../../src/stores/redis.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres.js';
import { startCluster, type RedisCluster } from './redis-server.js';

export interface StoreFactory {
  name: string;
  /** A fresh, empty store; `clock` is only used by stores that keep time themselves (memory). */
  open(clock: () => number): Promise<SessionStore>;
  close(): Promise<void>;
}

const RUN = randomBytes(4).toString('hex');

export function memoryFactory(): StoreFactory {
  return { name: 'memory', open: async (clock) => new MemoryStore({ clock }), close: async () => {} };
}

/** True when better-sqlite3's addon loads here (it is built for one Node major: the machine's). */
export function betterSqlite3Loads(): boolean {
  try {
    new SqliteStore({ filename: ':memory:', sweepIntervalMs: 0, driver: 'better-sqlite3' }).close();
    return true;
  } catch {
    return false;
  }
}

/** SqliteStore in memory; `driver` pins one of the two (default: what `new SqliteStore()` picks here). */
export function sqliteFactory(driver: SqliteDriverName | 'auto' = 'auto'): StoreFactory {
  const stores: SqliteStore[] = [];
  return {
    name: driver === 'auto' ? 'sqlite' : `sqlite (${driver})`,
    open: async () => {
      const s = new SqliteStore({ filename: ':memory:', sweepIntervalMs: 0, driver });
      stores.push(s);
      return s;
    },
    close: async () => {
      for (const s of stores) await s.close();
    },
  };
}

export function redisFactory(): StoreFactory {
  let client: ReturnType<typeof createClient> | null = null;
  let n = 0;
  return {
    name: 'redis',
    open: async () => {
      if (!client) {
        client = createClient({ url: 'redis://127.0.0.1:6379' });
        client.on('error', () => {});
        await client.connect();
      }
      return new RedisStore({ client, prefix: `swt:${RUN}:${n++}:` });
    },
    close: async () => {
      if (!client) return;
      const keys = await client.keys(`swt:${RUN}:*`);
      for (let i = 0; i < keys.length; i += 500) await client.del(keys.slice(i, i + 500));
      await client.quit();
    },
  };
}

/** A 3-master Redis Cluster started for this file (a few seconds); one client for all stores. */
export function redisClusterFactory(): StoreFactory {
  let cluster: RedisCluster | null = null;
  let client: ReturnType<typeof createCluster> | null = null;
  let n = 0;
  return {
    name: 'redis cluster',
    open: async () => {
      if (!cluster) cluster = await startCluster();
      if (!client) {
        client = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.nodes[0]!.port}` }] });
        client.on('error', () => {});
        await client.connect();
      }
      return new RedisStore({ client, prefix: `swt:${RUN}:${n++}:` });
    },
    close: async () => {
      await client?.quit();
      await cluster?.stop();
    },
  };
}

export function postgresFactory(): StoreFactory {
  const schema = `sw_engine_${RUN}`;
  let pool: pg.Pool | null = null;
  let n = 0;
  return {
    name: 'postgres',
    open: async () => {
      pool ??= new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: process.env.PGUSER ?? 'postgres', max: 4 });
      const s = new PostgresStore({ pool, schema, table: `t${n++}` });
      await s.migrate();
      return s;
    },
    close: async () => {
      if (!pool) return;
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await pool.end();
    },
  };
}

/** The stores every engine-level test runs on (the cluster is opt-in: it costs a few seconds). */
export function allStores(options: { cluster?: boolean } = {}): StoreFactory[] {
  return [memoryFactory(), sqliteFactory(), redisFactory(), ...(options.cluster ? [redisClusterFactory()] : []), postgresFactory()];
}
