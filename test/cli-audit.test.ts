import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { runAudit, type AuditArgs, type AuditReport } from '../src/cli/audit.js';
import { evaluate, score, grade, type AuditFacts, type FindingId } from '../src/cli/audit-rules.js';
import { cli } from './helpers/cli-run.js';
import { selfSignedCertificate } from '../app/lib/config.js';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sw-cli-audit-'));
const tls = selfSignedCertificate(dir);
const closers: Array<() => Promise<void>> = [];

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

interface Ran {
  code: number;
  report?: AuditReport;
  out: string;
}

async function audit(url: string, a: Partial<AuditArgs> = {}): Promise<Ran> {
  let out = '';
  const code = await runAudit(url, { json: true, failUnder: 'C', insecure: false, samples: 0, ...a }, { out: (s) => (out += s), err: () => undefined });
  return { code, out, report: a.json === false ? undefined : (JSON.parse(out) as AuditReport) };
}

const ids = (r: Ran) => new Set(r.report!.findings.map((f) => f.id));

/** The weak app: plain HTTP, readable 90-day cookie, no regenerate at login, logout that keeps the session. */
function weakApp(): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({
      secret: 'weak-app-secret-weak-app-secret-!',
      resave: false,
      saveUninitialized: true,
      cookie: { httpOnly: false, secure: false, maxAge: 90 * 86_400_000 },
    }),
  );
  app.get('/login', (_req, res) => {
    res.send('<form method="post" action="/login"><input name="username"><input type="password" name="pass"><button>go</button></form>');
  });
  app.post('/login', (req, res) => {
    if (req.body.username !== 'alice' || req.body.pass !== 'wonderland') return res.status(401).send('no');
    (req.session as unknown as { user: string }).user = 'alice';
    res.redirect('/me');
  });
  app.get('/me', (req, res) => {
    const user = (req.session as unknown as { user?: string }).user;
    if (!user) return res.redirect('/login');
    res.send(`<p>hello ${user}</p><form method="post" action="/logout"><button>out</button></form>`);
  });
  app.post('/logout', (_req, res) => {
    res.clearCookie('connect.sid');
    res.redirect('/login');
  });
  app.get('/', (_req, res) => res.send('<a href="/login">login</a>'));
  return app;
}

/** The strong app: HTTPS, HSTS, __Host- cookie, regenerate at login, destroy at logout, no-store. */
function strongApp(): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use((_req, res, next) => {
    res.setHeader('strict-transport-security', 'max-age=63072000; includeSubDomains');
    res.setHeader('cache-control', 'no-store');
    next();
  });
  app.use(
    session({
      name: '__Host-sid',
      secret: 'strong-app-secret-strong-app-secret',
      resave: false,
      saveUninitialized: true,
      cookie: { httpOnly: true, secure: true, sameSite: 'lax', path: '/' },
    }),
  );
  app.get('/', (req, res) => {
    (req.session as unknown as { csrf?: string }).csrf ??= Math.random().toString(36).slice(2);
    res.send('<a href="/signin">sign in</a>');
  });
  app.get('/signin', (req, res) => {
    const s = req.session as unknown as { csrf?: string };
    s.csrf ??= 'c' + Date.now();
    res.send(`<form method="post"><input type="hidden" name="_csrf" value="${s.csrf}"><input name="email" type="email"><input name="password" type="password"></form>`);
  });
  app.post('/signin', (req, res, next) => {
    const s = req.session as unknown as { csrf?: string };
    if (req.body._csrf !== s.csrf || req.body.email !== 'bob@example.com' || req.body.password !== 'builder') return res.status(403).send('no');
    req.session.regenerate((err) => {
      if (err) return next(err);
      (req.session as unknown as { user: string }).user = 'bob';
      res.redirect(303, '/account');
    });
  });
  app.get('/account', (req, res) => {
    if (!(req.session as unknown as { user?: string }).user) return res.status(401).send('sign in first');
    res.send('<form method="post" action="/signout"><button>sign out</button></form>');
  });
  app.post('/signout', (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      res.clearCookie('__Host-sid', { path: '/', secure: true });
      res.redirect(303, '/signin');
    });
  });
  return app;
}

let counter = 1000;
/** Sloppy in its own ways: SameSite=None without Secure, a Domain, a session id in links, counter tokens. */
function sloppyServer(): http.Server {
  return http.createServer((req, res) => {
    const sid = `sess${(counter++).toString(16).padStart(12, '0')}`;
    res.setHeader('set-cookie', [`SESSIONID=${sid}; Path=/; HttpOnly; SameSite=None; Domain=localhost`, `prefs=dark; Path=/; Max-Age=${500 * 86400}; SameSite=Lax`]);
    res.setHeader('cache-control', 'no-store');
    res.end(`<a href="/cart;jsessionid=${sid}">cart</a>`);
  });
}

let weakUrl = '';
let strongUrl = '';
let sloppyUrl = '';

beforeAll(async () => {
  weakUrl = `http://127.0.0.1:${await listen(http.createServer(weakApp()))}`;
  strongUrl = `https://127.0.0.1:${await listen(https.createServer({ key: tls.key, cert: tls.cert }, strongApp()))}`;
  sloppyUrl = `http://localhost:${await listen(sloppyServer())}`;
});
afterAll(async () => {
  for (const c of closers) await c();
  rmSync(dir, { recursive: true, force: true });
});

describe('sessionward audit: graded apps', () => {
  it('grades a weak express-session app D or F, with each expected finding', async () => {
    const r = await audit(`${weakUrl}/`, { login: '/login', user: 'alice', password: 'wonderland', logout: '/logout' });
    expect(['D', 'F']).toContain(r.report!.grade);
    expect(r.code).toBe(1);
    const found = ids(r);
    for (const id of ['cookie-no-secure', 'cookie-no-httponly', 'cookie-no-samesite', 'cookie-no-host-prefix', 'cookie-long-lifetime', 'cookie-cacheable', 'no-hsts', 'session-fixation', 'logout-not-invalidating'] as FindingId[]) {
      expect(found, id).toContain(id);
    }
    expect(r.report!.findings.find((f) => f.id === 'cookie-no-httponly')).toMatchObject({ severity: 'high', cookie: 'connect.sid' });
    for (const id of ['cookie-samesite-none-insecure', 'cookie-broad-domain', 'session-id-in-url', 'token-low-entropy'] as FindingId[]) expect(found, id).not.toContain(id);
  });

  it('grades a strong app A+ with no finding, after login, logout and 20 token samples', async () => {
    const r = await audit(`${strongUrl}/`, { insecure: true, login: '/signin', user: 'bob@example.com', password: 'builder', logout: '/signout', samples: 20 });
    expect(r.report).toMatchObject({ grade: 'A+', score: 100, findings: [] });
    expect(r.code).toBe(0);
  });

  it('reports SameSite=None without Secure, a broad Domain, a session id in a URL and counter tokens', async () => {
    const r = await audit(`${sloppyUrl}/`, { samples: 20 });
    const found = ids(r);
    for (const id of ['cookie-samesite-none-insecure', 'cookie-broad-domain', 'session-id-in-url', 'token-low-entropy', 'cookie-long-lifetime'] as FindingId[]) expect(found, id).toContain(id);
    // The session cookie is HttpOnly and never cached.
    expect(r.report!.findings.filter((f) => f.cookie === 'SESSIONID').map((f) => f.id)).not.toContain('cookie-no-httponly');
    expect(found).not.toContain('cookie-cacheable');
    expect(r.report!.findings.find((f) => f.id === 'cookie-long-lifetime')).toMatchObject({ cookie: 'prefs', severity: 'low' });
  });

  it('the fail-under floor decides the exit code', async () => {
    expect((await audit(`${sloppyUrl}/`, { failUnder: 'F' })).code).toBe(0);
    expect((await audit(`${strongUrl}/`, { insecure: true, failUnder: 'A+' })).code).toBe(0);
  });
});

describe('sessionward audit: odd servers', () => {
  it('a redirect loop, huge headers and a TLS error are network errors (exit 2), never a crash', async () => {
    const loop = await listen(http.createServer((req, res) => res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end()));
    const huge = await listen(http.createServer({ maxHeaderSize: 1 << 20 }, (_req, res) => res.writeHead(200, { 'x-pad': 'x'.repeat(100_000) }).end('hi')));
    const { code: c1, stderr: e1 } = await cli(['audit', `http://127.0.0.1:${loop}/a`]);
    expect(c1).toBe(2);
    expect(e1).toMatch(/redirect loop/);
    const { code: c2, stderr: e2 } = await cli(['audit', `http://127.0.0.1:${huge}/`]);
    expect(c2).toBe(2);
    expect(e2).toMatch(/headers larger than/);
    const { code: c3, stderr: e3 } = await cli(['audit', `${strongUrl}/`]);
    expect(c3).toBe(2);
    expect(e3).toMatch(/TLS error.*--insecure/);
    for (const e of [e1, e2, e3]) expect(e).not.toMatch(/\n\s+at /);
  });

  it('a site that sets no cookies is graded on HSTS alone', async () => {
    const port = await listen(http.createServer((_req, res) => res.end('plain')));
    const r = await audit(`http://127.0.0.1:${port}/`);
    expect(r.report!.findings.map((f) => f.id)).toEqual(['no-hsts']);
    expect(r.report!.grade).toBe('A');
  });

  it('bad usage exits 2: no URL, a non-http URL, --login without credentials, too few samples', async () => {
    for (const args of [['audit'], ['audit', 'ftp://x/'], ['audit', 'http://127.0.0.1:1/', '--login', '/x'], ['audit', 'http://127.0.0.1:1/', '--samples', '5'], ['audit', 'http://127.0.0.1:1/', '--fail-under', 'Z']]) {
      expect((await cli(args)).code, args.join(' ')).toBe(2);
    }
  });
});

describe('sessionward audit: the reference app', () => {
  let child: ChildProcess | undefined;
  const appDir = mkdtempSync(join(tmpdir(), 'sw-cli-audit-app-'));
  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(appDir, { recursive: true, force: true });
  });

  it('over HTTPS=1 grades A or better through the CLI, with login, logout and entropy checked', async () => {
    child = spawn(join(root, 'node_modules/.bin/tsx'), ['app/server.ts'], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: appDir, HTTPS: '1', DEMO_PASSWORD: 'audit-demo-password', NODE_ENV: 'test', SW_INSECURE_TEST_SCRYPT: '1', REDIS_URL: '', REDIS_CLUSTER_URLS: '', DATABASE_URL: '', SESSION_SECRETS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const port = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`no start:\n${out}`)), 25_000);
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /URL\s+https:\/\/localhost:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const r = await cli(['audit', `https://127.0.0.1:${port}/`, '--insecure', '--json', '--fail-under', 'A', '--login', '/signin', '--user', 'demo@example.com', '--password', 'audit-demo-password', '--logout', '/signout', '--samples', '20']);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as AuditReport;
    // The findings in the message: a grade alone says nothing about what went wrong.
    expect(['A+', 'A'], JSON.stringify(report.findings.map((f) => [f.id, f.severity]))).toContain(report.grade);
    expect(r.code).toBe(0);
    expect(report.findings.map((f) => f.id)).not.toContain('session-fixation');
    expect(report.findings.map((f) => f.id)).not.toContain('logout-not-invalidating');
  }, 40_000);
});

describe('audit rules, one by one (docs/audit.md)', () => {
  const base = (cookies: string[], extra: Partial<AuditFacts> = {}, cc = 'no-store'): AuditFacts => ({
    target: new URL('https://app.example.com/'),
    final: { url: new URL('https://app.example.com/'), hsts: 'max-age=63072000' },
    cookies: cookies.map((header) => ({ header, url: new URL('https://app.example.com/'), cacheControl: cc })),
    urls: ['https://app.example.com/'],
    ...extra,
  });
  const good = '__Host-sid=abcdefgh12345678; Path=/; Secure; HttpOnly; SameSite=Lax';
  const check = (f: AuditFacts) => new Set(evaluate(f).map((x) => x.id));

  it('a clean session cookie has no finding and scores 100 (A+)', () => {
    const fs = evaluate(base([good], { fixation: { cookie: 'x', kept: false, stillWorks: false }, logout: { cookie: 'x', stillWorks: false }, entropy: { cookie: 'x', samples: 20, bits: 200, pass: true, reasons: [] } }));
    expect(fs).toEqual([]);
    expect(grade(score(fs))).toBe('A+');
  });

  it.each([
    ['cookie-no-secure', '__Host-sid=a; Path=/; HttpOnly; SameSite=Lax'],
    ['cookie-no-httponly', '__Host-sid=a; Path=/; Secure; SameSite=Lax'],
    ['cookie-no-samesite', '__Host-sid=a; Path=/; Secure; HttpOnly'],
    ['cookie-samesite-none-insecure', 'prefs=a; Path=/; SameSite=None'],
    ['cookie-no-host-prefix', 'sid=a; Path=/; Secure; HttpOnly; SameSite=Lax'],
    ['cookie-broad-domain', 'sid=a; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=Lax'],
    ['cookie-long-lifetime', '__Host-sid=a; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3000000'],
    ['cookie-long-lifetime', `theme=a; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${401 * 86400}`],
  ] as Array<[FindingId, string]>)('%s is found on %s', (id, header) => {
    expect(check(base([header]))).toContain(id);
    expect(check(base([good]))).not.toContain(id);
  });

  it('a persistent session cookie under 30 days and a 400-day other cookie are fine', () => {
    const found = check(base([`${good}; Max-Age=${29 * 86400}`, `theme=a; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${400 * 86400}`]));
    expect(found).not.toContain('cookie-long-lifetime');
  });

  it('cookie-cacheable: Set-Cookie without no-store or private', () => {
    expect(check(base([good], {}, 'max-age=60'))).toContain('cookie-cacheable');
    expect(check(base([good], {}, 'private, max-age=60'))).not.toContain('cookie-cacheable');
  });

  it('session-id-in-url: a known parameter or the cookie value in a URL', () => {
    expect(check(base([good], { urls: ['https://app.example.com/a?PHPSESSID=0123456789abcdef'] }))).toContain('session-id-in-url');
    expect(check(base([good], { urls: ['https://app.example.com/x/abcdefgh12345678'] }))).toContain('session-id-in-url');
    expect(check(base([good], { urls: ['https://app.example.com/a?page=2'] }))).not.toContain('session-id-in-url');
  });

  it('no-hsts: missing, short, or plain HTTP', () => {
    expect(check(base([good], { final: { url: new URL('https://app.example.com/') } }))).toContain('no-hsts');
    expect(check(base([good], { final: { url: new URL('https://app.example.com/'), hsts: 'max-age=86400' } }))).toContain('no-hsts');
    expect(check(base([good], { final: { url: new URL('http://app.example.com/') } }))).toContain('no-hsts');
  });

  it('token-low-entropy, session-fixation and logout-not-invalidating follow their observations', () => {
    const bad = check(base([good], { entropy: { cookie: 'a', samples: 20, bits: 20, pass: false, reasons: ['x'] }, fixation: { cookie: 'a', kept: true, stillWorks: true }, logout: { cookie: 'a', stillWorks: true } }));
    for (const id of ['token-low-entropy', 'session-fixation', 'logout-not-invalidating'] as FindingId[]) expect(bad).toContain(id);
  });

  it('a deleting Set-Cookie is not judged, and a rule counts once however many cookies fail it', () => {
    expect(evaluate(base(['sid=; Path=/; Max-Age=0']))).toEqual([]);
    const two = evaluate(base(['sid=a; Path=/', 'session=b; Path=/']));
    expect(two.filter((f) => f.id === 'cookie-no-secure')).toHaveLength(2);
    expect(score(two)).toBe(score(evaluate(base(['sid=a; Path=/']))));
  });
});
