/** The lifecycle model (test/helpers/lifecycle-model.ts) on SqliteStore (in memory). */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { sqliteFactory } from './helpers/stores.js';

it('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38: random request sequences on SQLite match the lifecycle model', async () => {
  await withStore(sqliteFactory(), (store, clock) => checkLifecycle(store, clock, runs(3000)));
}, 600_000);
