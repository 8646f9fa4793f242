/**
 * Start the reference app's real entry point (`tsx app/server.ts`, as `npm start` does) on a free
 * port with a temporary data directory, for browser tests; stop it and remove the directory after.
 * The app is reached as `localhost`. Used by the browser tests in test/e2e/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Playwright-core on the system Chromium: no browser download, no sandbox in CI containers. */
export const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
};

export interface RunningApp {
  child: ChildProcess;
  url: string;
  port: number;
  dir: string;
  output: () => string;
}

/** Start the app and wait for the URL it prints; `env` adds to (or overrides) the test defaults. */
export function startApp(env: Record<string, string>): Promise<RunningApp> {
  const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-'));
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['app/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, REDIS_URL: '', REDIS_CLUSTER_URLS: '', DATABASE_URL: '', SESSION_SECRETS: '', NODE_ENV: 'test', SW_INSECURE_TEST_SCRYPT: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /URL\s+(http:\/\/localhost:(\d+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, url: m[1]!, port: Number(m[2]), dir, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

export async function stopApp(r: RunningApp | undefined): Promise<void> {
  if (!r) return;
  if (r.child.exitCode === null) {
    const exited = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((res) => setTimeout(res, 3000))]);
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
  }
  rmSync(r.dir, { recursive: true, force: true });
}
