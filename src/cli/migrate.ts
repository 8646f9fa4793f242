/**
 * `sessionward migrate --postgres <url>`: create or upgrade the session table (idempotent, under
 * an advisory lock, so it is safe beside running instances). SQLite migrates itself on open.
 */
import type { CliIo } from './io.js';
import { openStoreUrl } from './store-url.js';
import { UsageError } from './cleanup.js';

export interface MigrateArgs {
  postgres?: string;
  schema?: string;
  table?: string;
  json: boolean;
}

/**
 * @example
 * await runMigrate({ postgres: 'postgres://app@db/app', json: true }, io)
 */
export async function runMigrate(a: MigrateArgs, io: CliIo): Promise<number> {
  if (a.postgres === undefined) throw new UsageError('--postgres <url> is required (SQLite tables migrate when the app opens them)');
  if (!/^postgres(ql)?:\/\//i.test(a.postgres)) throw new UsageError('--postgres takes a postgres:// URL');
  const o = await openStoreUrl(a.postgres, { schema: a.schema, table: a.table });
  try {
    const version = await o.store.migrate!();
    const table = `${a.schema ?? 'public'}.${a.table ?? 'sessionward_sessions'}`;
    io.out(a.json ? JSON.stringify({ store: 'postgres', table, version }) : `${table} is at schema version ${version}`);
    return 0;
  } finally {
    await o.close().catch(() => undefined);
  }
}
