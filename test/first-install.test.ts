/**
 * "npm install && npm start compiles nothing on a current Node" (issue 18): npm 11 runs the
 * install script of a dependency the project's `allowScripts` does not list (with a notice), so
 * only a denial stops better-sqlite3's compile; the repository's own `prepare` step builds the
 * addon where node:sqlite is missing (scripts/sqlite-addon.mjs). The whole repository install is
 * measured by hand (CHANGELOG); here each part is checked for real, in seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, ensureRuntimes, runChild, runtimeBin } from './helpers/runtimes.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
const BETTER_SQLITE3 = lock.packages['node_modules/better-sqlite3']!.version;
const SCRIPT = join(ROOT, 'scripts/sqlite-addon.mjs');
let project: string;

beforeAll(() => {
  ensureRuntimes();
  project = mkdtempSync(join(tmpdir(), 'sw-first-install-'));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('a first install compiles nothing on a Node with node:sqlite', () => {
  it("package.json denies better-sqlite3's install script and ships no install script of its own", () => {
    expect(pkg.allowScripts['better-sqlite3']).toBe(false);
    expect(pkg.scripts.prepare).toBe('node scripts/sqlite-addon.mjs install');
    // "prepare" runs in this repository only; these would run in every project that installs sessionward.
    for (const hook of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts[hook]).toBeUndefined();
  });

  it("npm honours the policy: better-sqlite3 installed under this repository's allowScripts builds no addon", async () => {
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'first-install-check', version: '1.0.0', private: true, dependencies: { 'better-sqlite3': BETTER_SQLITE3 }, allowScripts: pkg.allowScripts }),
    );
    const r = await runChild('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], project, 300_000);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(project, 'node_modules/better-sqlite3/binding.gyp'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/better-sqlite3/build'))).toBe(false);
  }, 320_000);

  it('the prepare step on Node 24 leaves better-sqlite3 unbuilt and says why', async () => {
    const before = existsSync(join(ROOT, 'node_modules/better-sqlite3/build')) ? readFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')) : null;
    const r = await runChild(runtimeBin('node24'), [SCRIPT, 'install'], ROOT, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sqlite-addon: Node v24\.\S+ has node:sqlite: better-sqlite3 left unbuilt/);
    // This machine's addon (built for its own Node) is untouched.
    if (before) expect(readFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')).equals(before)).toBe(true);
  });

  it('the prepare run npm makes before pack/publish does nothing', async () => {
    const r = await runChild(process.execPath, [SCRIPT, 'install'], ROOT, 60_000, { npm_command: 'pack' });
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });
});
