/** The lifecycle model (test/helpers/lifecycle-model.ts) on MemoryStore. */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { memoryFactory } from './helpers/stores.js';

it('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38/SEC-39: random request sequences on memory match the lifecycle model', async () => {
  await withStore(memoryFactory(), (store, clock) => checkLifecycle(store, clock, runs(4000)));
}, 600_000);
