/** The lifecycle model (test/helpers/lifecycle-model.ts) on RedisStore on the shared Redis at 127.0.0.1:6379. */
import { it } from 'vitest';
import { checkLifecycle, runs, withStore } from './helpers/lifecycle-model.js';
import { redisFactory } from './helpers/stores.js';

it('SEC-11/SEC-14/SEC-15/SEC-16/SEC-18/SEC-36/SEC-38/SEC-39: random request sequences on Redis match the lifecycle model', async () => {
  await withStore(redisFactory(), (store, clock) => checkLifecycle(store, clock, runs(1400)));
}, 600_000);
