import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that share a real Redis/PostgreSQL use their own prefixes/schemas, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
