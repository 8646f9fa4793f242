/**
 * The package as a user's project sees it, built once per source state and shared by the test
 * files that need it (the type test and the examples test): `<dir>/node_modules/sessionward` holds
 * this repository's package.json and a `dist/` compiled from src/ with tsconfig.build.json, so
 * imports go through the real `exports` map and `.d.ts` files; every other entry of
 * `<dir>/node_modules` links to this repository's node_modules (express, fastify, hono, tsx, ...).
 * Projects written under `<dir>` resolve both, as an installed project would.
 *
 * The directory is keyed by a hash of what the build reads, so a changed source builds anew; a
 * lock directory makes parallel test files wait for one build instead of racing it. Unlike
 * test/package-install.test.ts (which packs and installs from the registry), nothing here leaves
 * the machine, so it takes seconds.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './runtimes.js';

const run = promisify(execFile);
const CACHE = join(ROOT, '.tmp', 'built-package');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [...filesUnder(join(ROOT, 'src')).sort(), join(ROOT, 'package.json'), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')]) {
    h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The directory whose node_modules holds the built package; builds it unless already there. */
export async function builtPackage(): Promise<string> {
  const dir = join(CACHE, sourceHash());
  const done = join(dir, '.done');
  const lock = `${dir}.lock`;
  mkdirSync(CACHE, { recursive: true });
  for (;;) {
    if (existsSync(done)) return dir;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building this very state; a lock older than the build can take is stale.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      await sleep(250);
    }
  }
  try {
    if (existsSync(done)) return dir;
    // Earlier source states are of no further use.
    for (const old of readdirSync(CACHE)) if (!old.startsWith(dir.slice(CACHE.length + 1))) rmSync(join(CACHE, old), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    const pkg = join(dir, 'node_modules', 'sessionward');
    mkdirSync(pkg, { recursive: true });
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
      cwd: ROOT,
      timeout: 170_000,
    });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== 'sessionward') symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
    }
    writeFileSync(done, new Date().toISOString());
    return dir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
