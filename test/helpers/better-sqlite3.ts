/**
 * For the test files that pin the better-sqlite3 driver: its addon is not built by `npm install`
 * on a Node with node:sqlite (package.json denies its install script; scripts/sqlite-addon.mjs),
 * so these files build it for the Node that runs them, once, before their first test. Where it
 * already loads (Node 20 after `npm ci`) this costs one child process.
 *
 * @example
 * await ensureBetterSqlite3()   // top level of the test file
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/sqlite-addon.mjs', import.meta.url));

export function ensureBetterSqlite3(): void {
  const r = spawnSync(process.execPath, [SCRIPT, 'ensure'], { stdio: 'inherit' });
  if (r.status !== 0) {
    throw new Error(`better-sqlite3 does not load on Node ${process.version} and did not build (node scripts/sqlite-addon.mjs ensure: exit ${String(r.status)})`);
  }
}
