/** The lifecycle model (test/helpers/lifecycle-model.ts) on PostgresStore on 127.0.0.1:5432/test. */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { postgresFactory } from './helpers/stores.js';

it('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38/SEC-39: random request sequences on PostgreSQL match the lifecycle model', async () => {
  await withStore(postgresFactory(), (store, clock) => checkLifecycle(store, clock, runs(1000)));
}, 600_000);
