/**
 * Open a session store from one URL, for the `sessions` and `doctor` commands:
 * `postgres://…` / `postgresql://…`, `redis://…` / `rediss://…`, `sqlite:<file>` (or a path
 * ending in .db / .sqlite). Drivers are optional peer dependencies: a missing one is named
 * (src/cli/drivers.ts); SQLite runs on the driver layer, node:sqlite where the runtime has it.
 */
import { existsSync } from 'node:fs';
import type { SessionStore } from '../stores/types.js';
import { UsageError } from './cleanup.js';
import { requireDriver } from './drivers.js';

export { DriverMissingError, requireDriver } from './drivers.js';

export interface StoreTarget {
  schema?: string;
  table?: string;
  prefix?: string;
}

export interface OpenedStore {
  kind: 'postgres' | 'redis' | 'sqlite';
  store: SessionStore & { count?: (now: number) => Promise<number>; migrate?: () => Promise<number> };
  close: () => Promise<void>;
}

export function storeKind(url: string): OpenedStore['kind'] {
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  if (/^rediss?:\/\//i.test(url)) return 'redis';
  if (/^sqlite:/i.test(url) || /\.(db|sqlite3?)$/i.test(url)) return 'sqlite';
  throw new UsageError(`unknown store URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}: use postgres://, redis://, rediss:// or sqlite:<file>`);
}

/**
 * Open the store a URL names.
 *
 * @example
 * const o = await openStoreUrl('sqlite:data/sessions.db'); try { ... } finally { await o.close() }
 */
export async function openStoreUrl(url: string, t: StoreTarget = {}): Promise<OpenedStore> {
  const kind = storeKind(url);
  if (kind === 'sqlite') {
    const file = url.replace(/^sqlite:(\/\/)?/i, '');
    // Never create a database for a mistyped path.
    if (!existsSync(file)) throw new Error(`no such SQLite file: ${file}`);
    const { SqliteStore } = await import('../stores/sqlite.js');
    // The driver this runtime has (node:sqlite from Node 22.13, else better-sqlite3; none is a
    // ConfigError naming `npm i better-sqlite3@12`). An existing session table only: a mistyped
    // --table must not create a table, an index or switch the file to WAL.
    const store = new SqliteStore({ filename: file, table: t.table, sweepIntervalMs: 0, createSchema: false });
    return { kind, store, close: () => store.close() };
  }
  if (kind === 'postgres') {
    const pg = (await requireDriver('pg', () => import('pg'), `a ${kind}:// store`)).default;
    const { PostgresStore } = await import('../stores/postgres.js');
    const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => undefined);
    const store = new PostgresStore({ pool, schema: t.schema, table: t.table, statementTimeoutMs: 30_000 });
    return { kind, store, close: () => pool.end() };
  }
  const { createClient } = await requireDriver('redis', () => import('redis'), `a ${kind}:// store`);
  const { RedisStore } = await import('../stores/redis.js');
  const client = createClient({ url, socket: { connectTimeout: 10_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  const store = new RedisStore({ client, prefix: t.prefix });
  return { kind, store, close: () => client.close() };
}
