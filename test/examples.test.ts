/**
 * Every file in examples/ runs as README.md says (`npx tsx <file>` with SESSION_KEY from
 * `sessionward keygen`), inside a project that installed the built package: started on a free
 * port, requested once, and requested again with the cookie it set, which must bring back the same
 * session. The Next.js route handler is a plain module; a four-line server calls its GET.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtPackage } from './helpers/built-package.js';
import { ROOT, runChild } from './helpers/runtimes.js';

const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts'));
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const NEXT_SERVER = `
import { serve } from '@hono/node-server'
import { GET } from './next-route.ts'
serve({ fetch: (request) => GET(request, {}), port: Number(process.env.PORT), hostname: 'localhost' }, (info) => console.log('listening on http://localhost:' + info.port))
`;

let base: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  base = mkdtempSync(join(await builtPackage(), 'examples-'));
}, 200_000);

afterAll(() => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (base) rmSync(base, { recursive: true, force: true });
});

/** A fresh project directory holding the example (its ./data/ is its own). */
function project(file: string): string {
  const dir = join(base, file.replace(/\.ts$/, ''));
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'example', private: true, type: 'module' }));
  cpSync(join(ROOT, 'examples', file), join(dir, file));
  return dir;
}

/** Start `file` with tsx on port 0 and resolve with the URL it prints. */
function start(dir: string, file: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NODE_OPTIONS$|VITEST|TEST$|NODE_ENV$)/i.test(k)) env[k] = v;
  env.SESSION_KEY = randomBytes(32).toString('base64url');
  env.PORT = '0';
  const child = spawn(process.execPath, [TSX, file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} printed no URL in 30 s:\n${out}`)), 30_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace(/\/$/, '') + '/');
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}:\n${out}`));
    });
  });
}

describe('examples/: each file runs and keeps a session across two requests', () => {
  it('there is one example per adapter', () => {
    expect(EXAMPLES.sort()).toEqual(['express.ts', 'fastify.ts', 'hono.ts', 'next-route.ts', 'node-http.ts', 'web.ts']);
  });

  it.each(EXAMPLES)('%s', async (file) => {
    const dir = project(file);
    let entry = file;
    if (file === 'next-route.ts') {
      entry = 'server.ts';
      writeFileSync(join(dir, entry), NEXT_SERVER);
    }
    const url = await start(dir, entry);
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ views: 1 });
    const setCookie = first.headers.getSetCookie();
    expect(setCookie[0]).toMatch(/^__Host-sid=[^;]+;.*HttpOnly/i);
    expect(setCookie[0]).toMatch(/;\s*Secure/i);
    const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
    const second = await fetch(url, { headers: { cookie } });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ views: 2 });
    // without the cookie: a new session, not someone else's
    expect(await (await fetch(url)).json()).toEqual({ views: 1 });
  }, 60_000);

  it('started without SESSION_KEY, an example stops at start-up and says how to make a key', async () => {
    const dir = join(base, 'no-key');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'example', private: true, type: 'module' }));
    cpSync(join(ROOT, 'examples', 'node-http.ts'), join(dir, 'node-http.ts'));
    const r = await runChild(process.execPath, [TSX, 'node-http.ts'], dir, 30_000, { SESSION_KEY: '', PORT: '0' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_CONFIG');
    expect(r.stderr).toContain('secrets[0] is missing');
    expect(r.stderr).toContain('npx sessionward keygen --kind session');
  }, 40_000);
});
