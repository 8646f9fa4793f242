/** The lifecycle model (test/helpers/lifecycle-model.ts) on SqliteStore (in memory), on each of its two drivers. */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { sqliteFactory } from './helpers/stores.js';
import { hasNodeSqlite } from '../src/stores/sqlite.js';
import { betterSqlite3Loads } from './helpers/stores.js';

// Each driver where this runtime has it: better-sqlite3's addon is built for the machine's Node (20),
// node:sqlite exists from Node 22.13 (the suite's Node 24 run, scripts/runtimes.sh).
it.runIf(betterSqlite3Loads())('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38/SEC-39: random request sequences on SQLite match the lifecycle model', async () => {
  await withStore(sqliteFactory('better-sqlite3'), (store, clock) => checkLifecycle(store, clock, runs(2400)));
}, 600_000);

it.runIf(hasNodeSqlite())('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38/SEC-39: random request sequences on SQLite (node:sqlite) match the lifecycle model', async () => {
  await withStore(sqliteFactory('node:sqlite'), (store, clock) => checkLifecycle(store, clock, runs(2400)));
}, 600_000);
