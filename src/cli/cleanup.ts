/**
 * `sessionward cleanup`: remove expired sessions from a store in bounded batches. Drivers are
 * optional peer dependencies, so each is imported only when its flag is used, and a missing one is
 * a ConfigError naming what to `npm i` (src/cli/drivers.ts). Redis expires
 * session keys by TTL on its own; there the run prunes the per-user indexes (`RedisStore.cleanup`).
 */
import { existsSync } from 'node:fs';
import type { SessionStore } from '../stores/types.js';
import { requireDriver } from './drivers.js';

export interface CleanupArgs {
  sqlite?: string;
  postgres?: string;
  redis?: string;
  schema?: string;
  table?: string;
  prefix?: string;
  batch: number;
  json: boolean;
}

export interface CleanupIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Progress line updated in place; only given when stdout is a terminal. */
  progress?: (s: string) => void;
}

export interface CleanupSummary {
  store: 'sqlite' | 'postgres' | 'redis';
  removed: number;
  ms: number;
}

/** Thrown for bad flags: exit code 2. */
export class UsageError extends Error {}

interface Opened {
  kind: CleanupSummary['store'];
  store: SessionStore;
  close: () => Promise<void>;
  /**
   * The cut-off clock: the clock the expiries were written against, as far as the tool can tell.
   * A CLI host whose clock runs ahead would otherwise delete sessions that are still live.
   */
  now: () => Promise<number>;
}

async function open(a: CleanupArgs): Promise<Opened> {
  if (a.sqlite !== undefined) {
    // Never create a database (or its directory) for a mistyped path.
    if (!existsSync(a.sqlite)) throw new Error(`no such SQLite file: ${a.sqlite}`);
    const { SqliteStore } = await import('../stores/sqlite.js');
    // Never create schema or switch the journal mode either: a mistyped --table is an error.
    const store = new SqliteStore({ filename: a.sqlite, table: a.table, sweepIntervalMs: 0, createSchema: false });
    // The file is on this host: its clock is the one the application wrote expiries with.
    return { kind: 'sqlite', store, close: () => store.close(), now: async () => Date.now() };
  }
  if (a.postgres !== undefined) {
    const pg = (await requireDriver('pg', () => import('pg'), 'cleanup --postgres')).default;
    const { PostgresStore } = await import('../stores/postgres.js');
    const pool = new pg.Pool({ connectionString: a.postgres, max: 1, connectionTimeoutMillis: 10_000 });
    // An idle client that errors (server restart) must not crash the CLI with an unhandled event.
    pool.on('error', () => undefined);
    const schema = a.schema ?? 'public';
    const table = a.table ?? 'sessionward_sessions';
    const store = new PostgresStore({ pool, schema, table, statementTimeoutMs: 30_000 });
    try {
      const found = await pool.query('SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2', [schema, table]);
      if (found.rowCount === 0) {
        throw new Error(`no session table ${schema}.${table} in this database (relation does not exist); check --schema and --table (the application creates it with store.migrate())`);
      }
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    // The database's clock, not this host's: one reference for every app server that wrote rows.
    const now = async () => Number((await pool.query<{ ms: string }>("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms")).rows[0]!.ms);
    return { kind: 'postgres', store, close: () => pool.end(), now };
  }
  const { createClient, createCluster } = await requireDriver('redis', () => import('redis'), 'cleanup --redis');
  const { RedisStore } = await import('../stores/redis.js');
  // A one-shot tool: fail on the first refused connection instead of reconnecting forever.
  const socket = { connectTimeout: 10_000, reconnectStrategy: false as const };
  const client = createClient({ url: a.redis, socket });
  client.on('error', () => undefined);
  await client.connect();
  const info = String(await client.sendCommand(['INFO', 'cluster']).catch(() => ''));
  if (!/^cluster_enabled:1\b/m.test(info)) {
    const store = new RedisStore({ client, prefix: a.prefix });
    return { kind: 'redis', store, close: () => client.close(), now: async () => Date.now() };
  }
  // A cluster node: index keys live on every master, so reconnect as a cluster client and let
  // the store scan each master. Credentials and TLS in the URL apply to every node.
  await client.close();
  const url = new URL(a.redis!);
  const cluster = createCluster({
    rootNodes: [{ url: a.redis }],
    defaults: {
      socket: url.protocol === 'rediss:' ? { ...socket, tls: true } : socket,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    },
  });
  cluster.on('error', () => undefined);
  await cluster.connect();
  const store = new RedisStore({ client: cluster, prefix: a.prefix });
  return { kind: 'redis', store, close: () => cluster.close(), now: async () => Date.now() };
}

/**
 * Run the cleanup; returns the summary or throws (UsageError -> exit 2, anything else -> exit 1).
 *
 * @example
 * await runCleanup({ sqlite: 'data/sessions.db', batch: 1000, json: true }, { out: console.log, err: console.error })
 */
export async function runCleanup(a: CleanupArgs, io: CleanupIo): Promise<CleanupSummary> {
  const chosen = [a.sqlite, a.postgres, a.redis].filter((x) => x !== undefined).length;
  if (chosen !== 1) throw new UsageError('choose exactly one of --sqlite <file>, --postgres <url>, --redis <url>');
  if (a.schema !== undefined && a.postgres === undefined) throw new UsageError('--schema applies to --postgres only');
  if (a.prefix !== undefined && a.redis === undefined) throw new UsageError('--prefix applies to --redis only');
  if (a.table !== undefined && a.redis !== undefined) throw new UsageError('--table does not apply to --redis');
  if (!Number.isInteger(a.batch) || a.batch < 1 || a.batch > 100_000) {
    throw new UsageError('--batch must be an integer between 1 and 100000');
  }

  const started = performance.now();
  const o = await open(a);
  try {
    if (typeof o.store.cleanup !== 'function') {
      throw new Error(`the ${o.kind} store offers no cleanup (its TTLs expire sessions on their own)`);
    }
    // One cut-off for the whole run, so it ends even while new sessions keep expiring.
    const now = await o.now();
    // What `removed` counts: rows for the SQL stores, stale per-user index entries for Redis.
    const what = o.kind === 'redis' ? 'stale index entries' : 'expired sessions';
    let removed = 0;
    // A store returns less than the batch once nothing is left (Redis: once its SCAN pass ended).
    for (;;) {
      const n = await o.store.cleanup(now, a.batch);
      removed += n;
      io.progress?.(`removed ${removed} ${what}...`);
      if (n < a.batch) break;
    }
    const summary: CleanupSummary = { store: o.kind, removed, ms: Math.round(performance.now() - started) };
    if (a.json) io.out(JSON.stringify(summary));
    else io.out(`removed ${removed} ${what} from ${o.kind} in ${summary.ms} ms`);
    return summary;
  } finally {
    await o.close().catch(() => undefined);
  }
}
