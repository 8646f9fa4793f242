/**
 * The Web entry points on the runtimes users deploy Web handlers to: Bun, Deno, Cloudflare's
 * workerd (through miniflare) and Vercel's edge runtime, each from the npm registry at the version
 * pinned in scripts/runtimes/package-lock.json. One app (test/runtimes/web-app.ts) is bundled from
 * `sessionward/web` and `sessionward/sealed/web` with every `node:` import left external, then run
 * by each runtime: a store-backed session and a sealed-cookie session each serve two requests, the
 * second bringing the first one's cookie back. workerd (no nodejs_compat) and the edge runtime
 * have no Node built-ins, so a `node:` import anywhere on those entry points fails the load there.
 * JWT (`sessionward/jwt`, built on node:crypto) runs on Bun, Deno and workerd with nodejs_compat.
 * Express with `sessionward/express` (test/runtimes/express-app.ts) runs on Bun.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ensureRuntimes, reportOf, ROOT, runChild, runtimeBin } from './helpers/runtimes.js';

const WORK = join(ROOT, '.runtimes', 'smoke-web');
const COMPAT_DATE = '2026-07-01';
type RoundTrip = { status: number[]; views: unknown[]; cookie: string };
type WebReport = { store: RoundTrip; sealed: RoundTrip };
type JwtReport = Record<'HS256' | 'ES256', { sub?: string; tampered?: string; error?: string }>;

let externalNodeImports: string[] = [];

async function bundle(entry: string, outfile: string, format: 'esm' | 'iife'): Promise<string[]> {
  const r = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format,
    globalName: format === 'iife' ? '__sw' : undefined,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    external: ['node:*'],
    outfile: join(WORK, outfile),
    metafile: true,
    logLevel: 'error',
  });
  return Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
}

const DRIVER = `
const [what] = process.argv.slice(2)
const m = await import(what === 'jwt' ? './jwt.mjs' : what === 'express' ? './express.cjs' : './web.mjs')
console.log('REPORT ' + JSON.stringify(await (m.selfTest ?? m.default.selfTest)()))
`;
const MINIFLARE = `
import { Miniflare } from 'miniflare'
const [script, flags] = process.argv.slice(2)
const mf = new Miniflare({ modules: true, scriptPath: script, compatibilityDate: '${COMPAT_DATE}', compatibilityFlags: flags ? flags.split(',') : [] })
try {
  const res = await mf.dispatchFetch('https://app.example/__selftest')
  const text = await res.text()
  if (res.status !== 200) throw new Error(res.status + ' ' + text)
  console.log('REPORT ' + text)
} finally {
  await mf.dispose()
}
`;
const EDGE = `
import { readFileSync } from 'node:fs'
import { EdgeRuntime } from 'edge-runtime'
const code = readFileSync(new URL('./web.js', import.meta.url), 'utf8')
const runtime = new EdgeRuntime({ initialCode: code + '\\naddEventListener("fetch", (e) => e.respondWith(__sw.default.fetch(e.request)))' })
const res = await runtime.dispatchFetch('https://app.example/__selftest')
const text = await res.text()
if (res.status !== 200) throw new Error(res.status + ' ' + text)
console.log('REPORT ' + text)
`;

beforeAll(async () => {
  ensureRuntimes();
  mkdirSync(WORK, { recursive: true });
  externalNodeImports = [
    ...(await bundle('test/runtimes/web-app.ts', 'web.mjs', 'esm')),
    ...(await bundle('test/runtimes/web-app.ts', 'web.js', 'iife')),
  ];
  await bundle('test/runtimes/jwt-app.ts', 'jwt.mjs', 'esm');
  // Express and sessionward/express as one CommonJS file for Node platforms (Express is CommonJS).
  await build({
    entryPoints: [join(ROOT, 'test/runtimes/express-app.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    outfile: join(WORK, 'express.cjs'),
    logLevel: 'error',
  });
  writeFileSync(join(WORK, 'driver.mjs'), DRIVER);
  // Beside .runtimes/node_modules, so `miniflare` and `edge-runtime` resolve.
  writeFileSync(join(WORK, 'miniflare.mjs'), MINIFLARE);
  writeFileSync(join(WORK, 'edge.mjs'), EDGE);
}, 600_000);

function expectSessions(r: WebReport): void {
  expect(r.store.status).toEqual([200, 200]);
  expect(r.store.views).toEqual([1, 2]);
  expect(r.store.cookie).toMatch(/^__Host-sid=[^;]+;.*HttpOnly/i);
  expect(r.sealed.status).toEqual([200, 200]);
  expect(r.sealed.views).toEqual([1, 2]);
}

function expectJwt(r: JwtReport, algs: ReadonlyArray<'HS256' | 'ES256'>): void {
  for (const alg of algs) {
    expect(r[alg].error, r[alg].error).toBeUndefined();
    expect(r[alg]).toEqual({ sub: 'u1', tampered: 'ERR_TOKEN_INVALID' });
  }
}

describe('the Web entry points load no Node built-in', () => {
  it('sessionward/web and sessionward/sealed/web bundle with no node: import left over', () => {
    expect(externalNodeImports).toEqual([]);
  });
});

const web: Record<string, () => Promise<WebReport>> = {
  bun: async () => reportOf('bun', await runChild(runtimeBin('bun'), ['driver.mjs', 'web'], WORK, 60_000)),
  deno: async () => reportOf('deno', await runChild(runtimeBin('deno'), ['run', '--allow-read', '--no-config', 'driver.mjs', 'web'], WORK, 60_000)),
  'workerd (miniflare, no nodejs_compat)': async () =>
    reportOf('miniflare', await runChild(runtimeBin('node24'), ['miniflare.mjs', 'web.mjs', ''], WORK, 90_000)),
  'edge-runtime': async () => reportOf('edge-runtime', await runChild(process.execPath, ['edge.mjs'], WORK, 60_000)),
};

describe.each(Object.keys(web))('%s', (name) => {
  it('Web adapter with a store session and a sealed-cookie session: the second request brings each session back', async () => {
    expectSessions(await web[name]!());
  }, 120_000);
});

// workerd's node:crypto sign() refuses a KeyObject made by its own generateKeyPairSync/createPrivateKey,
// so ES256/RS256 signing fails there (README support matrix); HMAC works.
const JWT_ALGS: Record<string, ReadonlyArray<'HS256' | 'ES256'>> = {
  bun: ['HS256', 'ES256'],
  deno: ['HS256', 'ES256'],
  'workerd (miniflare, nodejs_compat)': ['HS256'],
};
const jwt: Record<string, () => Promise<JwtReport>> = {
  bun: async () => reportOf('bun', await runChild(runtimeBin('bun'), ['driver.mjs', 'jwt'], WORK, 60_000)),
  deno: async () => reportOf('deno', await runChild(runtimeBin('deno'), ['run', '--allow-read', '--no-config', 'driver.mjs', 'jwt'], WORK, 60_000)),
  'workerd (miniflare, nodejs_compat)': async () =>
    reportOf('miniflare', await runChild(runtimeBin('node24'), ['miniflare.mjs', 'jwt.mjs', 'nodejs_compat'], WORK, 90_000)),
};

describe.each(Object.keys(jwt))('%s', (name) => {
  it(`sessionward/jwt signs and verifies ${JWT_ALGS[name]!.join(' and ')} and refuses a tampered token`, async () => {
    expectJwt(await jwt[name]!(), JWT_ALGS[name]!);
  }, 120_000);
});

describe('bun', () => {
  it('Express with sessionward/express: the session is created, read back, logged in (token rotated) before a redirect, and logged out', async () => {
    const r = reportOf<{ status: number[]; views: unknown[]; user: unknown; rotated: boolean; redirect: string | null; cleared: boolean }>(
      'bun',
      await runChild(runtimeBin('bun'), ['driver.mjs', 'express'], WORK, 60_000),
    );
    expect(r).toEqual({ status: [200, 200, 200, 302, 200, 204], views: [1, 2, 2], user: 'ada', rotated: true, redirect: '/read', cleared: true });
  }, 120_000);
});
