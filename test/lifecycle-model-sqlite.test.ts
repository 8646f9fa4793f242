/** The lifecycle model (test/helpers/lifecycle-model.ts) on SqliteStore (in memory), on each driver this Node has. */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { sqliteFactory } from './helpers/stores.js';
import { hasNodeSqlite } from '../src/stores/sqlite.js';

// node:sqlite exists from Node 22.13; on older Node only better-sqlite3 runs (the Node 24 run of the suite covers both).
for (const driver of hasNodeSqlite() ? (['better-sqlite3', 'node:sqlite'] as const) : (['better-sqlite3'] as const)) {
  it(`SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38: random request sequences on SQLite (${driver}) match the lifecycle model`, async () => {
    await withStore(sqliteFactory(driver), (store, clock) => checkLifecycle(store, clock, runs(3000)));
  }, 600_000);
}
