import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * `sessionward/<subpath>` -> its source, for each public subpath of package.json "exports" and no
 * other: the reference app imports the package by name as a user would, without a build. The same
 * map is tsconfig.json "paths" (tsc, and tsx for `npm start`); test/app-public-imports.test.ts
 * keeps the two equal.
 */
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { exports: Record<string, string | { default: string }> };
const alias = Object.entries(pkg.exports)
  .filter((e): e is [string, { default: string }] => typeof e[1] === 'object')
  .map(([sub, target]) => ({
    find: new RegExp(`^sessionward${sub === '.' ? '' : sub.slice(1).replace(/[/.]/g, '\\$&')}$`),
    replacement: new URL(target.default.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts'), import.meta.url).pathname,
  }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that share a real Redis/PostgreSQL use their own prefixes/schemas, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
