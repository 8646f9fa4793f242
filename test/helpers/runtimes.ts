/**
 * The runtimes besides the machine's Node (scripts/runtimes.sh installs them into .runtimes/ from
 * the versions pinned in scripts/runtimes/package-lock.json) and a child-process runner for them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUNTIMES = join(ROOT, '.runtimes', 'node_modules');
export type RuntimeName = 'node22' | 'node24' | 'node26' | 'bun' | 'deno';

/** Install the pinned runtimes once (a lock serialises test files asking at the same time). */
export function ensureRuntimes(): void {
  execFileSync('bash', [join(ROOT, 'scripts/runtimes.sh'), 'fetch'], { stdio: 'inherit', timeout: 600_000 });
}

export function runtimeBin(name: RuntimeName): string {
  return execFileSync('bash', [join(ROOT, 'scripts/runtimes.sh'), 'bin', name], { encoding: 'utf8' }).trim();
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run with no stdin, the whole process group killed on overrun; npm/vitest variables dropped. */
export function runChild(cmd: string, args: string[], cwd: string, timeoutMs: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|NODE_OPTIONS$|VITEST|TEST$|NODE_ENV$)/i.test(k)) env[k] = v;
  }
  Object.assign(env, extraEnv);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON a child printed on its `REPORT ` line, or an assertion-friendly error with its output. */
export function reportOf<T>(what: string, r: Run): T {
  const line = r.stdout.split('\n').find((l) => l.startsWith('REPORT '));
  if (r.code !== 0 || !line) {
    throw new Error(`${what} exited with ${r.code}\n--- stderr ---\n${r.stderr.slice(-4000)}\n--- stdout ---\n${r.stdout.slice(-4000)}`);
  }
  return JSON.parse(line.slice('REPORT '.length)) as T;
}
