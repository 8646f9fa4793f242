/**
 * What a user gets from `npm install sessionward redis` today: the packed tarball (prepack builds
 * dist/) installed into an empty project next to the latest redis, ioredis, express, fastify and
 * hono (and better-sqlite3 12) from the registry, then exercised by a plain `node` ESM script that
 * imports exactly what README.md shows. It proves that the peer ranges accept the current majors,
 * that `files` and `exports` ship every entry point (each export resolves to a file that exists
 * and imports, and so does every `sessionward…` specifier the docs import), that every adapter
 * serves a real request whose cookie a second request brings back to the same session, that
 * RedisStore works on the latest node-redis and ioredis, and that the CLI bin runs.
 *
 * Network: the npm registry and 127.0.0.1 only (Redis on 6379). Not skipped offline on purpose:
 * CI runs `npm test` only, and this is its one check of the published shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRuntimes, runChild, runtimeBin, type Run, type RuntimeName } from './helpers/runtimes.js';
import { ensureBetterSqlite3 } from './helpers/better-sqlite3.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * What a new user installs: the latest of each from the registry, except better-sqlite3, pinned
 * to 12 as docs/sqlite.md says: its latest major (13) needs Node 22, and this package supports
 * Node 20. @hono/node-server serves the Hono app and the Web handler on Node (the README's
 * snippets leave serving to the runtime).
 */
const BETTER_SQLITE3 = (JSON.parse(readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
const INSTALL = ['redis@latest', 'ioredis@latest', 'express@latest', 'fastify@latest', 'hono@latest', `better-sqlite3@${BETTER_SQLITE3}`, '@hono/node-server@latest'];
const INSTALLED = INSTALL.map((spec) => spec.slice(0, spec.lastIndexOf('@')));
const PREFIX = `swpkg:${process.pid}-${Date.now().toString(36)}:`;

// Child processes: runChild (test/helpers/runtimes.ts) — no stdin, process group killed on
// overrun, npm/vitest variables dropped so the temp project sees a user's plain shell.
const run = runChild;

/** For assertion messages: the command's exit code and the tail of both streams. */
function shown(what: string, r: Run): string {
  const tail = (s: string): string => (s.length > 6000 ? `…${s.slice(-6000)}` : s);
  return `${what} exited with ${r.code}\n--- stderr ---\n${tail(r.stderr)}\n--- stdout ---\n${tail(r.stdout)}`;
}

/** Every `import … from 'sessionward…'` specifier in README.md and docs/*.md. */
function documentedSpecifiers(): string[] {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const found = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/\bfrom\s+['"](sessionward(?:\/[^'"]*)?)['"]/g)) found.add(m[1]!);
  }
  return [...found].sort();
}

// The script a user would write, in plain ESM JavaScript: imports as README.md shows them, one
// request pair per adapter, one RedisStore round trip per Redis client. It prints one JSON report.
const SCRIPT = String.raw`
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import { createClient } from 'redis'
import { Redis } from 'ioredis'
import { SessionManager } from 'sessionward'
import { SqliteStore } from 'sessionward/stores/sqlite'
import { nodeSessions, sendError } from 'sessionward/node'
import { withSession } from 'sessionward/web'
import { session } from 'sessionward/express'
import { fastifySessionward, sessionOf } from 'sessionward/fastify'
import { sessionMiddleware } from 'sessionward/hono'
import { RedisStore } from 'sessionward/stores/redis'

const [prefix, specifiersJson] = process.argv.slice(2)
const report = { adapters: {}, redis: {}, exports: {}, documented: {}, versions: {} }
const SECRET = randomBytes(32).toString('base64url')
const store = new SqliteStore()                     // ./data/sessions.db, as in README.md
const manager = new SessionManager({ store, secrets: [SECRET] })
const csrf = { origin: 'https://app.example.com' }
const closers = []

async function roundTrip(url) {
  const first = await fetch(url)
  const setCookie = first.headers.getSetCookie()
  const body1 = await first.text()
  const cookie = setCookie.map((c) => c.split(';')[0]).join('; ')
  const second = await fetch(url, { headers: { cookie } })
  return { status: [first.status, second.status], setCookie, body: [body1, await second.text()] }
}
const listening = async (server) => {
  if (!server.listening) await once(server, 'listening')
  closers.push(() => new Promise((r) => server.close(() => r())))
  return 'http://127.0.0.1:' + server.address().port + '/'
}
const only = process.argv[5] ? JSON.parse(process.argv[5]) : null
async function adapter(name, start) {
  if (only && !only.includes(name)) return
  try {
    report.adapters[name] = await roundTrip(await start())
  } catch (e) {
    report.adapters[name] = { error: String(e && e.stack || e) }
  }
}

await adapter('node', () => {
  const sessions = nodeSessions(manager)
  return listening(http.createServer(async (req, res) => {
    try {
      const session = await sessions.load(req)
      session.set('views', (session.get('views') ?? 0) + 1)
      await sessions.commit(session, res)
      res.end('views: ' + session.get('views'))
    } catch (err) {
      if (!sendError(res, err)) throw err
    }
  }).listen(0, '127.0.0.1'))
})

await adapter('web', () => {
  const fetchHandler = withSession(manager, async (request, session) => {
    session.set('views', (session.get('views') ?? 0) + 1)
    return Response.json({ views: session.get('views') })
  })
  return listening(serve({ fetch: fetchHandler, port: 0, hostname: '127.0.0.1' }))
})

await adapter('express', () => {
  const app = express()
  app.use(session({ secret: SECRET, store }))
  app.get('/', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1
    res.json({ views: req.session.views })
  })
  return listening(app.listen(0, '127.0.0.1'))
})

await adapter('fastify', async () => {
  const app = Fastify()
  await app.register(fastifySessionward, { manager, csrf })
  app.get('/', async (request) => {
    const s = sessionOf(request)
    s.set('views', (s.get('views') ?? 0) + 1)
    return { views: s.get('views') }
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  closers.push(() => app.close())
  return address + '/'
})

await adapter('hono', () => {
  const app = new Hono()
  app.use(sessionMiddleware(manager, { csrf }))
  app.get('/', (c) => {
    const s = c.get('session')
    s.set('views', (s.get('views') ?? 0) + 1)
    return c.json({ views: s.get('views') })
  })
  return listening(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }))
})

// Both clients with the options docs/redis.md recommends.
const clients = {
  redis: async () => {
    const c = createClient({
      url: 'redis://127.0.0.1:6379',
      disableOfflineQueue: true,
      socket: { connectTimeout: 1000, reconnectStrategy: (n) => Math.min(n * 100, 2000) },
    })
    c.on('error', () => {})
    await c.connect()
    return { client: c, raw: (args) => c.sendCommand(args), close: () => c.destroy() }
  },
  ioredis: async () => {
    const c = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, lazyConnect: true })
    c.on('error', () => {})
    await c.connect()
    return { client: c, raw: ([cmd, ...rest]) => c.call(cmd, ...rest), close: () => c.disconnect() }
  },
}
async function keysUnder(raw, p) {
  const out = []
  let cursor = '0'
  do {
    const [next, batch] = await raw(['SCAN', cursor, 'MATCH', p + '*', 'COUNT', '1000'])
    cursor = String(next)
    out.push(...batch.map(String))
  } while (cursor !== '0')
  return out
}
for (const [name, connect] of Object.entries(clients)) {
  const p = prefix + name + ':'
  let conn
  try {
    conn = await connect()
    const s = new RedisStore({ client: conn.client, prefix: p })
    const now = Date.now()
    const id = randomBytes(32).toString('base64url')
    const record = {
      id, userId: 'pkg-user', data: { cart: ['sku-1'] }, version: 1, createdAt: now, lastSeenAt: now,
      authTime: now, absoluteExpiresAt: now + 60000, expiresAt: now + 60000, meta: {},
    }
    const created = await s.create(record)
    const got = await s.get(id, now)
    const keys = (await keysUnder(conn.raw, p)).length
    const deleted = await s.deleteByUser('pkg-user')
    const after = await s.get(id, now)
    // The store's expiry schedule (issue 19) outlives the user's keys until its sweep: bookkeeping, not user data.
    report.redis[name] = { driver: s.driver, created, data: got && got.data, keys, deleted, after, left: (await keysUnder(conn.raw, p)).filter((k) => k !== s.expiryKey) }
  } catch (e) {
    report.redis[name] = { error: String(e && e.stack || e) }
  } finally {
    if (conn) {
      try {
        for (const k of await keysUnder(conn.raw, p)) await conn.raw(['DEL', k])
      } catch {}
      await conn.close()
    }
  }
}

// Every exports entry: the specifier resolves, the files it names exist, and the module loads
// unless what it lacks is an optional peer this project did not install.
const pkg = JSON.parse(readFileSync('node_modules/sessionward/package.json', 'utf8'))
for (const [key, target] of Object.entries(pkg.exports)) {
  const spec = key === '.' ? 'sessionward' : 'sessionward' + key.slice(1)
  const files = (typeof target === 'string' ? [target] : Object.values(target)).map((t) => 'node_modules/sessionward/' + t.slice(2))
  const entry = { missingFiles: files.filter((f) => !existsSync(f)) }
  try {
    entry.resolved = existsSync(fileURLToPath(import.meta.resolve(spec)))
    if (!spec.endsWith('.json')) await import(spec)
    entry.loaded = true
  } catch (e) {
    const lacking = /Cannot find package '([^']+)'/.exec(String(e && e.message))
    entry.loaded = false
    entry.error = String(e && e.message)
    entry.lackingPeer = lacking ? lacking[1] : null
  }
  report.exports[spec] = entry
}
for (const spec of JSON.parse(specifiersJson)) {
  try {
    report.documented[spec] = existsSync(fileURLToPath(import.meta.resolve(spec)))
  } catch (e) {
    report.documented[spec] = String(e && e.message)
  }
}
for (const name of JSON.parse(process.argv[4])) {
  report.versions[name] = JSON.parse(readFileSync('node_modules/' + name + '/package.json', 'utf8')).version
}
report.sqliteDriver = store.driver
for (const close of closers) await close()
store.close?.()
console.log('REPORT ' + JSON.stringify(report))
`;

interface RoundTrip {
  status: number[];
  setCookie: string[];
  body: string[];
  error?: string;
}
interface Report {
  adapters: Record<string, RoundTrip>;
  redis: Record<string, { driver: string; created: boolean; data: unknown; keys: number; deleted: number; after: unknown; left: string[]; error?: string }>;
  exports: Record<string, { missingFiles: string[]; resolved?: boolean; loaded: boolean; error?: string; lackingPeer?: string | null }>;
  documented: Record<string, boolean | string>;
  versions: Record<string, string>;
  sqliteDriver?: string;
}

let work: string;
let project: string;
let report: Report;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sw-pack-'));
  const packDir = join(work, 'pack');
  project = join(work, 'project');
  mkdirSync(packDir);
  mkdirSync(project);
  // prepack builds dist/ first, so this also proves a pack can never ship without it.
  const pack = await run('npm', ['pack', '--pack-destination', packDir, '--loglevel=warn'], ROOT, 180_000);
  expect(pack.code, shown('npm pack', pack)).toBe(0);
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  expect(tarballs, shown('npm pack (no tarball)', pack)).toHaveLength(1);

  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'sessionward-install-check',
        version: '1.0.0',
        private: true,
        type: 'module',
      },
      null,
      2,
    ),
  );
  const install = await run(
    'npm',
    // No install scripts: better-sqlite3's would compile its addon from source here (no prebuilt
    // binary can be downloaded), nearly two minutes of CI for nothing this test checks. The same
    // version's addon, already built for this repository, is copied in below instead.
    ['install', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=warn', '--ignore-scripts', join(packDir, tarballs[0]!), ...INSTALL],
    project,
    480_000,
  );
  expect(install.code, shown('npm install', install)).toBe(0);
  // Built by `npm install` on Node 20 only; on a Node with node:sqlite, built now for this Node.
  ensureBetterSqlite3();
  cpSync(join(ROOT, 'node_modules/better-sqlite3/build'), join(project, 'node_modules/better-sqlite3/build'), { recursive: true });

  writeFileSync(join(project, 'check.mjs'), SCRIPT);
  const script = await run('node', ['check.mjs', PREFIX, JSON.stringify(documentedSpecifiers()), JSON.stringify(INSTALLED)], project, 60_000);
  expect(script.code, shown('node check.mjs', script)).toBe(0);
  const line = script.stdout.split('\n').find((l) => l.startsWith('REPORT '));
  expect(line, shown('node check.mjs (no report)', script)).toBeDefined();
  report = JSON.parse(line!.slice('REPORT '.length)) as Report;
  console.log(`installed: ${Object.entries(report.versions).map(([k, v]) => `${k}@${v}`).join(', ')}`);
}, 720_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package, installed from the registry next to the latest peers', () => {
  it.each(['node', 'web', 'express', 'fastify', 'hono'])('%s adapter: the first request sets the session cookie, the second brings the session back', (name) => {
    const r = report.adapters[name]!;
    expect(r.error, r.error).toBeUndefined();
    expect(r.status).toEqual([200, 200]);
    expect(r.setCookie.length, JSON.stringify(r)).toBeGreaterThan(0);
    expect(r.setCookie[0]).toMatch(/^__Host-sid=[^;]+;/);
    expect(r.setCookie[0]).toMatch(/;\s*HttpOnly/i);
    expect(r.setCookie[0]).toMatch(/;\s*Secure/i);
    const views = r.body.map((b) => (name === 'node' ? b : (JSON.parse(b) as { views: number }).views));
    expect(views).toEqual(name === 'node' ? ['views: 1', 'views: 2'] : [1, 2]);
  });

  it.each(['redis', 'ioredis'])('RedisStore on the latest %s client: create, get, deleteByUser; nothing left behind', (name) => {
    const r = report.redis[name]!;
    expect(r.error, r.error).toBeUndefined();
    expect(r.driver).toBe(name === 'redis' ? 'node-redis' : 'ioredis');
    expect(r.created).toBe(true);
    expect(r.data).toEqual({ cart: ['sku-1'] });
    expect(r.keys).toBe(3); // the session, its owner's index (pinned) and the store's expiry schedule
    expect(r.deleted).toBe(1);
    expect(r.after).toBeNull();
    expect(r.left).toEqual([]);
  });

  it('the latest redis and ioredis are the majors the peer ranges and the client matrix cover', () => {
    // npm install above already refused a latest major outside the peer ranges (ERESOLVE, shown
    // in the failure); this also names the versions a new user gets today.
    expect(report.versions.redis).toMatch(/^[56]\./);
    expect(report.versions.ioredis).toMatch(/^[56]\./);
    expect(report.versions['better-sqlite3']).toMatch(/^12\./);
  });

  it('every exports entry resolves to shipped files and loads (unless it needs an optional peer not installed)', () => {
    const expected = Object.keys(pkg.exports).map((k) => (k === '.' ? 'sessionward' : `sessionward${k.slice(1)}`));
    expect(Object.keys(report.exports).sort()).toEqual(expected.sort());
    const optionalPeers = Object.keys(pkg.peerDependencies).filter((p) => pkg.peerDependenciesMeta[p]?.optional && !INSTALLED.includes(p));
    for (const [spec, e] of Object.entries(report.exports)) {
      expect(e.missingFiles, spec).toEqual([]);
      expect(e.resolved, `${spec}: ${e.error}`).toBe(true);
      if (!e.loaded) expect(optionalPeers, `${spec} failed to load: ${e.error}`).toContain(e.lackingPeer);
    }
  });

  it('every sessionward specifier imported in README.md and docs/*.md resolves in the installed package', () => {
    const specs = documentedSpecifiers();
    expect(specs).toContain('sessionward/stores/redis');
    for (const spec of specs) expect(report.documented[spec], spec).toBe(true);
  });

  it('the sessionward bin runs from the installed package', async () => {
    const r = await run(join(project, 'node_modules', '.bin', 'sessionward'), ['--help'], project, 30_000);
    expect(r.code, shown('sessionward --help', r)).toBe(0);
    expect(r.stdout).toMatch(/\bcleanup\b/);
  });
});

/**
 * The same user script on the other runtimes (scripts/runtimes.sh): Node 22, 24 and 26, Bun and
 * Deno run it against the same installed project. `new SqliteStore()` runs on node:sqlite there
 * (nothing compiled); the better-sqlite3 addon in the project is built for this Node only.
 */
const ADAPTERS = ['node', 'web', 'express', 'fastify', 'hono'];
const OTHER_RUNTIMES: Record<string, { bin: RuntimeName; args: string[]; adapters: string[] }> = {
  'Node 22': { bin: 'node22', args: [], adapters: ADAPTERS },
  'Node 24': { bin: 'node24', args: [], adapters: ADAPTERS },
  'Node 26': { bin: 'node26', args: [], adapters: ADAPTERS },
  Bun: { bin: 'bun', args: [], adapters: ADAPTERS },
  Deno: { bin: 'deno', args: ['run', '-A'], adapters: ADAPTERS },
};

describe.each(Object.keys(OTHER_RUNTIMES))('the installed package on %s', (name) => {
  let other: Report;
  beforeAll(async () => {
    ensureRuntimes();
    const rt = OTHER_RUNTIMES[name]!;
    const r = await run(runtimeBin(rt.bin), [...rt.args, 'check.mjs', PREFIX + name.replace(' ', '') + ':', JSON.stringify(documentedSpecifiers()), JSON.stringify(INSTALLED), JSON.stringify(rt.adapters)], project, 120_000);
    expect(r.code, shown(`${name} check.mjs`, r)).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('REPORT '));
    expect(line, shown(`${name} check.mjs (no report)`, r)).toBeDefined();
    other = JSON.parse(line!.slice('REPORT '.length)) as Report;
  }, 600_000);

  it(`${OTHER_RUNTIMES[name]!.adapters.join(', ')}: each serves a session on SQLite (node:sqlite) across two requests`, () => {
    for (const a of OTHER_RUNTIMES[name]!.adapters) {
      const r = other.adapters[a]!;
      expect(r.error, `${a}: ${r.error}`).toBeUndefined();
      expect(r.status, a).toEqual([200, 200]);
      expect(r.setCookie[0], a).toMatch(/^__Host-sid=[^;]+;/);
      expect(r.body.map((b) => (a === 'node' ? b : (JSON.parse(b) as { views: number }).views)), a).toEqual(a === 'node' ? ['views: 1', 'views: 2'] : [1, 2]);
    }
    expect(other.sqliteDriver).toBe('node:sqlite');
  });

  it('RedisStore works on redis and ioredis', () => {
    for (const c of ['redis', 'ioredis']) {
      const r = other.redis[c]!;
      expect(r.error, `${c}: ${r.error}`).toBeUndefined();
      expect(r).toMatchObject({ created: true, data: { cart: ['sku-1'] }, deleted: 1, after: null, left: [] });
    }
  });
});
