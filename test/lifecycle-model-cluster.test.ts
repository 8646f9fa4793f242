/** The lifecycle model (test/helpers/lifecycle-model.ts) on RedisStore on a 3-master Redis Cluster started for this file. */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { redisClusterFactory } from './helpers/stores.js';

it('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38/SEC-39: random request sequences on Redis Cluster match the lifecycle model', async () => {
  await withStore(redisClusterFactory(), (store, clock) => checkLifecycle(store, clock, runs(1000)));
}, 600_000);
