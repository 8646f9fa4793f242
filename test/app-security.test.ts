/**
 * In-process HTTP tests of the reference app (app/): real node:http server on port 0, real
 * SQLite files in a temp dir, a fake clock where time matters. Each test proves one requirement
 * the app relies on, seen from the outside (status codes, headers, bodies, the audit file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp, type App } from '../app/lib/app.js';
import type { AppConfig } from '../app/lib/state.js';
import { loadEnvConfig, loadSecrets, openStore } from '../app/lib/config.js';
import { MemoryStore } from '../src/stores/memory.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import type { SessionStore } from '../src/stores/types.js';
import { totpAt } from './helpers/totp.js';
import { Accounts } from '../app/lib/accounts.js';
import { SCRYPT_MIN_LOG_N, scryptCost } from '../app/lib/passwords.js';

const PASSWORD = 'correct horse battery';
const SECRET = 'app-test-secret-0123456789-abcdefghijkl';
const METRICS_TOKEN = 'metrics-test-token-0123456789';
const scrape = (base: string) => fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });

class FakeClock {
  t = Date.UTC(2026, 0, 1, 12);
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}


interface Harness {
  app: App;
  base: string;
  dir: string;
  clock: FakeClock;
  store: SessionStore;
  /** Every response body and every session cookie value seen, for the SEC-4 / SEC-41 scans. */
  bodies: string[];
  cookieValues: Set<string>;
  close(): Promise<void>;
}

async function start(over: Partial<AppConfig> = {}, storeKind: 'memory' | 'sqlite' = 'memory'): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sw-app-'));
  const clock = new FakeClock();
  const store: SessionStore = storeKind === 'sqlite' ? new SqliteStore({ filename: join(dir, 'sessions.db'), sweepIntervalMs: 0 }) : new MemoryStore({ clock: clock.now });
  const app = await createApp({
    dataDir: dir,
    store,
    storeLabel: storeKind,
    secrets: [SECRET],
    https: false,
    idleMs: 30 * 60_000,
    absoluteMs: 12 * 3_600_000,
    warnMs: 60_000,
    stepUpMs: 5 * 60_000,
    // Many tests sign up from the one loopback address: the sign-up limit has its own tests.
    rateLimit: { accountMax: 5, ipMax: 20, windowMs: 15 * 60_000, untrustedMax: 50, signupMax: 50 },
    // The named low-cost setting (N=2^10, NODE_ENV=test only): the app's real floor is 2^17.
    insecureTestScrypt: true,
    metricsToken: METRICS_TOKEN,
    demo: null,
    demoRoles: true,
    auditFile: join(dir, 'audit.jsonl'),
    clock: clock.now,
    log: () => undefined,
    ...over,
  });
  const server = http.createServer(app.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  app.setOrigins([base, `http://localhost:${port}`]);
  return {
    app,
    base,
    dir,
    clock,
    store,
    bodies: [],
    cookieValues: new Set(),
    async close() {
      await app.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Res {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
}

/**
 * One HTTP exchange over node:http (fetch cannot choose the source address). Headers come back as
 * a fetch `Headers`, so the tests read them the same way either way.
 */
function request(url: string, o: { method: string; headers: Record<string, string>; body?: string; localAddress?: string; untilHeaders?: boolean }): Promise<{ status: number; headers: Headers; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method, headers: o.headers, localAddress: o.localAddress, agent: false }, (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
      }
      if (o.untilHeaders) {
        res.destroy();
        return resolve({ status: res.statusCode!, headers, body: '' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A cookie-keeping client that behaves like a same-origin browser page (Fetch Metadata + Origin). */
class Client {
  cookie = '';
  /** Other cookies the app set (the device cookie), sent back like a browser would. */
  jar = new Map<string, string>();
  csrf = '';
  /** Headers sent with every request (a proxy's X-Forwarded-For). */
  always: Record<string, string> = {};
  constructor(
    readonly h: Harness,
    readonly ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    /** Source address of this client's connections: any 127.0.0.0/8 address reaches the loopback server. */
    readonly ip = '127.0.0.1',
  ) {}

  async req(method: string, path: string, opts: { form?: Record<string, string>; headers?: Record<string, string>; csrf?: string | null } = {}): Promise<Res> {
    const cookies = [...(this.cookie ? [this.cookie] : []), ...[...this.jar].map(([k, v]) => `${k}=${v}`)];
    const headers: Record<string, string> = { 'user-agent': this.ua, ...this.always, ...(cookies.length ? { cookie: cookies.join('; ') } : {}) };
    let body: string | undefined;
    if (method !== 'GET') {
      headers.origin = this.h.base;
      headers['sec-fetch-site'] = 'same-origin';
      headers['content-type'] = 'application/x-www-form-urlencoded';
      const token = opts.csrf === undefined ? this.csrf : opts.csrf;
      body = new URLSearchParams({ ...(token ? { _csrf: token } : {}), ...opts.form }).toString();
    }
    Object.assign(headers, opts.headers);
    const r = await request(this.h.base + path, { method, headers, body, localAddress: this.ip });
    const text = r.body;
    this.h.bodies.push(text);
    for (const sc of r.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const cleared = /max-age=0/i.test(sc);
      if (name !== 'sid') {
        if (cleared) this.jar.delete(name);
        else this.jar.set(name, value);
        continue;
      }
      if (cleared) this.cookie = '';
      else {
        this.cookie = `sid=${value}`;
        this.h.cookieValues.add(value);
      }
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(text) ?? /<meta name="csrf-token" content="([^"]+)"/.exec(text);
    if (m) this.csrf = m[1]!;
    return { status: r.status, headers: r.headers, body: text, location: r.headers.get('location') };
  }

  get(path: string, headers?: Record<string, string>): Promise<Res> {
    return this.req('GET', path, { headers });
  }

  post(path: string, form: Record<string, string> = {}, opts: { headers?: Record<string, string>; csrf?: string | null } = {}): Promise<Res> {
    return this.req('POST', path, { form, ...opts });
  }

  /** Sign-up answers the same neutral redirect for every email; the new account then signs in. */
  async signup(email: string, password = PASSWORD): Promise<Res> {
    await this.get('/signup');
    const r = await this.post('/signup', { email, password, confirm: password });
    expect(r.location).toBe('/signin?reason=signed-up');
    return this.signin(email, password);
  }

  async signin(email: string, password = PASSWORD): Promise<Res> {
    await this.get('/signin');
    return this.post('/signin', { email, password });
  }
}

function auditLines(h: Harness): Array<Record<string, unknown>> {
  return readFileSync(join(h.dir, 'audit.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('reference app over HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await start({}, 'sqlite');
  });
  afterAll(async () => h.close());

  it('SEC-4: the session token appears only in Set-Cookie, never in any response body, and the cookie is HttpOnly + SameSite=Lax', async () => {
    const a = new Client(h);
    const first = await a.get('/signin');
    const sc = first.headers.getSetCookie().find((c) => c.startsWith('sid='))!;
    expect(sc).toMatch(/; HttpOnly/);
    expect(sc).toMatch(/; SameSite=Lax/);
    expect(sc).toMatch(/; Path=\//);
    expect(sc).not.toMatch(/Max-Age|Expires/i);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const anonymous = a.cookie;
    expect((await a.post('/signup', { email: 'sec4@example.com', password: PASSWORD, confirm: PASSWORD })).location).toBe('/signin?reason=signed-up');
    expect(a.cookie).toBe(anonymous);
    expect((await a.post('/signin', { email: 'sec4@example.com', password: PASSWORD })).location).toBe('/account');
    // SEC-15: a new token at sign-in.
    expect(a.cookie).not.toBe(anonymous);
    for (const p of ['/account', '/sessions', '/security', '/account/2fa', '/account/password', '/session/status']) expect((await a.get(p)).status).toBe(200);
    await a.post('/account/role', { role: 'admin' });
    for (const p of ['/admin', '/admin/stats.json', '/metrics', '/healthz', '/nope']) await a.get(p);
    // The live feed too: read its first chunk (stats and recent events), then hang up.
    const abort = new AbortController();
    const feed = await fetch(`${h.base}/admin/feed`, { headers: { cookie: a.cookie, accept: 'text/event-stream', 'user-agent': a.ua }, signal: abort.signal });
    expect(feed.headers.get('content-type')).toBe('text/event-stream');
    const chunk = await feed.body!.getReader().read();
    h.bodies.push(new TextDecoder().decode(chunk.value));
    expect(h.bodies.at(-1)).toContain('event: stats');
    abort.abort();
    await a.post('/session/keepalive', {}, { headers: { accept: 'application/json' } });
    await a.post('/signout');
    await h.app.close();
    const audit = readFileSync(join(h.dir, 'audit.jsonl'), 'utf8');

    expect(h.cookieValues.size).toBeGreaterThanOrEqual(3);
    for (const value of h.cookieValues) {
      const token = value.split('.')[0]!;
      expect(token).toHaveLength(43);
      for (const body of h.bodies) expect(body.includes(token)).toBe(false);
      expect(audit.includes(token)).toBe(false);
    }
  });
});

describe('reference app: authentication flows', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await start();
  });
  afterAll(async () => h.close());

  it('SEC-17: a session with the password done but the second factor pending gets 401 (or the code page), never a protected page', async () => {
    const a = new Client(h);
    await a.signup('sec17@example.com');
    const enrol = await a.get('/account/2fa');
    const secret = /data-secret="([A-Z2-7]+)"/.exec(enrol.body)![1]!;
    expect((await a.post('/account/2fa/enable', { code: totpAt(secret, h.clock.now()) })).location).toBe('/account');
    await a.post('/signout');

    const b = new Client(h);
    const pw = await b.signin('sec17@example.com');
    expect(pw.location).toBe('/signin/2fa');
    expect((await b.get('/account')).location).toBe('/signin/2fa');
    expect((await b.get('/sessions')).location).toBe('/signin/2fa');
    expect((await b.get('/account', { accept: 'application/json' })).status).toBe(401);
    expect((await b.get('/admin/stats.json')).status).toBe(401);
    const code = await b.get('/signin/2fa');
    expect(code.status).toBe(200);
    expect((await b.post('/session/keepalive', {}, { headers: { accept: 'application/json' } })).status).toBe(401);
    expect((await b.post('/sessions/revoke-others')).status).toBe(401);
    // The code used at enrolment can never be used again; the next step's code completes sign-in.
    expect((await b.post('/signin/2fa', { code: totpAt(secret, h.clock.now()) })).status).toBe(401);
    const before = b.cookie;
    expect((await b.post('/signin/2fa', { code: totpAt(secret, h.clock.now() + 30_000) })).location).toBe('/account');
    // SEC-16: completing the second factor rotates the token.
    expect(b.cookie).not.toBe(before);
    expect((await b.get('/account')).status).toBe(200);
  });

  it('SEC-14: a sensitive change with a stale authentication is refused and needs the password again', async () => {
    const a = new Client(h);
    await a.signup('sec14@example.com');
    expect((await a.get('/account/password')).status).toBe(200);
    h.clock.advance(6 * 60_000);
    const page = await a.get('/account/password');
    expect(page.status).toBe(303);
    expect(page.location).toBe('/reauth?next=%2Faccount%2Fpassword');
    await a.get('/account');
    const change = await a.post('/account/password', { password: 'a brand new password', confirm: 'a brand new password' });
    expect(change.location).toMatch(/^\/reauth/);
    expect((await a.post('/account/password', { password: 'x'.repeat(12), confirm: 'x'.repeat(12) }, { headers: { accept: 'application/json' } })).status).toBe(401);
    // Unchanged: the old password still signs in.
    expect((await new Client(h).signin('sec14@example.com')).location).toBe('/account');

    await a.get('/reauth?next=/account/password');
    expect((await a.post('/reauth', { password: 'wrong password!!', next: '/account/password' })).status).toBe(401);
    const before = a.cookie;
    const ok = await a.post('/reauth', { password: PASSWORD, next: '/account/password' });
    expect(ok.location).toBe('/account/password');
    expect(a.cookie).not.toBe(before);
    await a.get('/account/password');
    expect((await a.post('/account/password', { password: 'a brand new password', confirm: 'a brand new password', endOthers: '1' })).location).toBe('/account');
    expect((await new Client(h).signin('sec14@example.com', 'a brand new password')).location).toBe('/account');
  });

  it('rate limit: after 5 failed sign-ins for one account from one address that address gets 429 (even with the right password) for a while; other accounts are not held up', async () => {
    await new Client(h).signup('limited@example.com');
    const c = new Client(h);
    for (let i = 0; i < 5; i++) expect((await c.signin('limited@example.com', `wrong-password-${i}`)).status).toBe(401);
    const blocked = await c.signin('limited@example.com');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another account from the same address is not locked by this one's failures.
    await new Client(h).signup('other-limited@example.com');
    expect((await c.signin('other-limited@example.com')).location).toBe('/account');
    h.clock.advance(15 * 60_000 + 1);
    expect((await new Client(h).signin('limited@example.com')).location).toBe('/account');
  });

  it('SEC-22/24: unsafe requests without a same-origin signal or without the form token are refused with 403', async () => {
    const a = new Client(h);
    await a.signup('csrf@example.com');
    const other = new Client(h);
    await other.signup('csrf-other@example.com');
    const before = h.app.state.monitor.history.count('csrf.rejected');
    expect((await a.post('/sessions/revoke-all', {}, { headers: { 'sec-fetch-site': 'cross-site', origin: 'http://127.0.0.1:9' } })).status).toBe(403);
    expect((await a.post('/sessions/revoke-all', {}, { headers: { 'sec-fetch-site': '', origin: 'https://example.org.attacker.com' } })).status).toBe(403);
    expect((await a.post('/sessions/revoke-all', {}, { csrf: null })).status).toBe(403);
    expect((await a.post('/sessions/revoke-all', {}, { csrf: other.csrf })).status).toBe(403);
    // Login CSRF (SEC-26): the sign-in form needs the anonymous session's token too.
    expect((await new Client(h).post('/signin', { email: 'csrf@example.com', password: PASSWORD }, { csrf: null })).status).toBe(403);
    expect(h.app.state.monitor.history.count('csrf.rejected')).toBe(before + 5);
    // Still signed in: nothing above reached the handler.
    expect((await a.get('/account')).status).toBe(200);
  });

  it('SEC-38/39: a user lists their sessions and signs one out; that device is signed out at once', async () => {
    const a = new Client(h);
    await a.signup('devices@example.com');
    const b = new Client(h, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/128.0');
    await b.signin('devices@example.com');
    const list = await a.get('/sessions');
    expect(list.body).toContain('Firefox 128 on macOS');
    expect(list.body).toContain('this device');
    const rows = [...list.body.matchAll(/name="sid" value="([^"]+)"/g)].map((m) => m[1]!);
    expect(rows).toHaveLength(2);
    const otherHandle = /<tr data-testid="session-row">[\s\S]*?name="sid" value="([^"]+)"/.exec(list.body)![1]!;
    expect((await a.post('/sessions/revoke', { sid: otherHandle })).location).toBe('/sessions');
    expect((await b.get('/account')).location).toBe('/signin');
    expect((await a.get('/account')).status).toBe(200);
  });

  it('SEC-35: a new browser on a live session raises one risk event, without signing the user out', async () => {
    const a = new Client(h);
    await a.signup('risk@example.com');
    const thief = new Client(h, 'curl/8.5.0');
    thief.cookie = a.cookie;
    expect((await thief.get('/account')).status).toBe(200);
    await thief.get('/account');
    // The library's detector: a browser family change alone only logs (one soft signal, SEC-35).
    const risks = h.app.state.monitor.history.recent(200).filter((e) => e.type === 'anomaly.detected' && e.signal === 'ua_change');
    expect(risks).toHaveLength(1);
    expect(risks[0]).toMatchObject({ action: 'log' });
    expect((await a.get('/account')).body).toContain('changed since you signed in');
  });

  it('SEC-16: the demo role change rotates the token and raises the token generation', async () => {
    const a = new Client(h);
    await a.signup('role@example.com');
    const page1 = await a.get('/account');
    const fp1 = /data-testid="session-fingerprint">([^<]+)</.exec(page1.body)![1];
    const cookie1 = a.cookie;
    expect((await a.get('/admin')).status).toBe(403);
    expect((await a.post('/account/role', { role: 'admin' })).location).toBe('/account');
    expect(a.cookie).not.toBe(cookie1);
    const page2 = await a.get('/account');
    expect(/data-testid="session-fingerprint">([^<]+)</.exec(page2.body)![1]).not.toBe(fp1);
    expect(/data-testid="token-generation">(\d+)</.exec(page2.body)![1]).toBe('2');
    expect((await a.get('/admin')).status).toBe(200);
  });

  it('/metrics exposes the library\'s session, auth, CSRF, anomaly and cookie counters (counters only, no since-start ratios)', async () => {
    const r = await scrape(h.base);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await r.text();
    expect(text).toMatch(/^sessionward_sessions_created_total [1-9]/m);
    expect(text).toMatch(/^sessionward_sessions_rotated_total [1-9]/m);
    expect(text).toMatch(/^sessionward_auth_total\{outcome="success"\} [1-9]/m);
    expect(text).toMatch(/^sessionward_auth_total\{outcome="failure"\} [1-9]/m);
    expect(text).toMatch(/^sessionward_auth_total\{outcome="throttled"\} [1-9]/m);
    expect(text).toMatch(/^sessionward_csrf_refusals_total\{reason="token-invalid"\} [1-9]/m);
    expect(text).toMatch(/^sessionward_anomalies_total\{signal="ua_change",action="log"\} [1-9]/m);
    expect(text).toMatch(/^sessionward_active_sessions [1-9]/m);
    expect(text).toMatch(/^sessionward_session_cookies_total\{check="httpOnly",result="pass"\} [1-9]/m);
    expect(text).not.toMatch(/check="httpOnly",result="fail"/);
    expect(text).toMatch(/^app_events_total\{type="signin\.success"\} [1-9]/m);
    expect(text).not.toMatch(/^app_accounts/m);
    // rate() needs counters: a ratio since start hides a burst behind months of history.
    expect(text).not.toMatch(/_ratio /);
  });

  it('SEC-41: audit lines are JSON with UTC timestamps and keyed hashes, and never hold a token or CSRF token', async () => {
    await h.app.close();
    const lines = auditLines(h);
    expect(lines.length).toBeGreaterThan(20);
    const types = new Set(lines.map((l) => l.type));
    for (const t of ['session.created', 'session.rotated', 'signin.success', 'signin.failure', 'csrf.rejected', 'anomaly.detected', 'session.destroyed']) expect(types).toContain(t);
    const raw = readFileSync(join(h.dir, 'audit.jsonl'), 'utf8');
    for (const value of h.cookieValues) expect(raw.includes(value.split('.')[0]!)).toBe(false);
    for (const body of h.bodies) {
      for (const m of body.matchAll(/name="_csrf" value="([^"]+)"/g)) expect(raw.includes(m[1]!)).toBe(false);
    }
    expect(raw).not.toContain(PASSWORD);
    expect(statSync(join(h.dir, 'audit.jsonl')).mode & 0o077).toBe(0);
    for (const l of lines) {
      expect(String(l.at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      if (l.sid !== undefined) expect(String(l.sid)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
  });
});

describe('reference app: guessing slows the attacker, never locks the owner out', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await start({ rateLimit: { accountMax: 5, ipMax: 20, windowMs: 15 * 60_000, untrustedMax: 10 } });
  });
  afterAll(async () => h.close());

  const retryAfter = (r: Res) => Number(r.headers.get('retry-after'));

  it('an attacker failing from one address gets 429 with a growing Retry-After; the owner signs in from another address, and from a known device on the attacker\'s own address', async () => {
    await new Client(h, undefined, '127.0.0.2').signup('owner@example.com');
    // The owner's laptop has signed in before: it holds a device cookie for this account.
    const laptop = new Client(h, undefined, '127.0.0.3');
    expect((await laptop.signin('owner@example.com')).location).toBe('/account');
    expect([...laptop.jar.keys()]).toEqual(['device']);
    await laptop.post('/signout');

    const attacker = new Client(h, 'curl/8.5.0', '127.0.0.66');
    for (let i = 0; i < 5; i++) expect((await attacker.signin('owner@example.com', `guess-${i}`)).status).toBe(401);
    // Slowed: the next guess is refused before the password is checked, even the right one.
    const first = await attacker.signin('owner@example.com');
    expect(first.status).toBe(429);
    expect(retryAfter(first)).toBeGreaterThan(0);
    h.clock.advance(retryAfter(first) * 1000);
    expect((await attacker.signin('owner@example.com', 'guess-6')).status).toBe(401);
    const second = await attacker.signin('owner@example.com', 'guess-7');
    expect(second.status).toBe(429);
    expect(retryAfter(second)).toBeGreaterThan(retryAfter(first));
    const json = await attacker.post('/signin', { email: 'owner@example.com', password: 'guess-8' }, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(429);
    expect(JSON.parse(json.body)).toEqual({ error: 'ERR_THROTTLED' });

    // The owner, on a new device from another address: signs in with the right password.
    expect((await new Client(h, undefined, '127.0.0.4').signin('owner@example.com')).location).toBe('/account');
    // The owner's laptop behind the attacker's address (same NAT): its device cookie lets it in.
    const natLaptop = new Client(h, undefined, '127.0.0.66');
    natLaptop.jar = new Map(laptop.jar);
    expect((await natLaptop.signin('owner@example.com')).location).toBe('/account');
    // The attacker is still waiting.
    expect((await attacker.signin('owner@example.com', 'guess-9')).status).toBe(429);
  });

  it('failures from many addresses make unknown devices wait, while a device the owner signed in from before still signs in', async () => {
    await new Client(h, undefined, '127.0.0.2').signup('spread@example.com');
    const laptop = new Client(h, undefined, '127.0.0.3');
    expect((await laptop.signin('spread@example.com')).location).toBe('/account');
    await laptop.post('/signout');
    // A distributed guess: 10 addresses, one failure each (no address reaches its own limit).
    for (let i = 0; i < 10; i++) expect((await new Client(h, 'curl/8.5.0', `127.0.1.${i + 1}`).signin('spread@example.com', `guess-${i}`)).status).toBe(401);
    const unknownDevice = await new Client(h, undefined, '127.0.2.1').signin('spread@example.com');
    expect(unknownDevice.status).toBe(429);
    expect(retryAfter(unknownDevice)).toBeGreaterThan(0);
    expect((await laptop.signin('spread@example.com')).location).toBe('/account');
    // A forged or foreign device cookie is no key: it counts as an unknown device.
    const forger = new Client(h, undefined, '127.0.2.2');
    forger.jar.set('device', laptop.jar.get('device')!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    expect((await forger.signin('spread@example.com')).status).toBe(429);
    const other = new Client(h, undefined, '127.0.2.3');
    await other.signup('spread-other@example.com');
    await other.post('/signout');
    expect((await other.signin('spread-other@example.com')).location).toBe('/account');
    await other.post('/signout');
    expect((await other.signin('spread@example.com')).status).toBe(429);
  });

  it('sign-in failures for an email never block its signed-in owner from re-authenticating', async () => {
    const owner = new Client(h, undefined, '127.0.0.5');
    await owner.signup('reauth-owner@example.com');
    for (let i = 0; i < 12; i++) await new Client(h, 'curl/8.5.0', `127.0.3.${i + 1}`).signin('reauth-owner@example.com', `guess-${i}`);
    h.clock.advance(6 * 60_000);
    expect((await owner.get('/account/password')).location).toMatch(/^\/reauth/);
    await owner.get('/reauth?next=/account/password');
    expect((await owner.post('/reauth', { password: PASSWORD, next: '/account/password' })).location).toBe('/account/password');
  });

  it('a burst of 40 concurrent wrong passwords is counted before scrypt: at most the limit (5) is evaluated, at sign-in and at step-up', async () => {
    const owner = new Client(h, undefined, '127.0.4.1');
    await owner.signup('burst@example.com');
    const attacker = new Client(h, 'curl/8.5.0', '127.0.4.2');
    await attacker.get('/signin');
    const signins = await Promise.all(Array.from({ length: 40 }, (_, i) => attacker.post('/signin', { email: 'burst@example.com', password: `guess-${i}` })));
    const statuses = (rs: Res[]) => rs.map((r) => r.status).sort();
    expect(statuses(signins)).toEqual([...Array<number>(5).fill(401), ...Array<number>(35).fill(429)]);
    // Step-up: the signed-in owner's own session, same shape.
    h.clock.advance(6 * 60_000);
    await owner.get('/reauth?next=/account/password');
    const reauths = await Promise.all(Array.from({ length: 40 }, (_, i) => owner.post('/reauth', { password: `guess-${i}`, next: '/account/password' })));
    expect(statuses(reauths)).toEqual([...Array<number>(5).fill(401), ...Array<number>(35).fill(429)]);
    // A right password gives its reservation back: successes are never charged to the address.
    h.clock.advance(16 * 60_000);
    await owner.get('/reauth?next=/account/password');
    expect((await owner.post('/reauth', { password: PASSWORD, next: '/account/password' })).location).toBe('/account/password');
    for (let i = 0; i < 25; i++) expect((await new Client(h, undefined, '127.0.4.3').signin('burst@example.com')).location).toBe('/account');
  });
});

describe('reference app behind a reverse proxy', () => {
  /** A visitor reaching the app through a proxy on `proxyIp`, which appends `clientIp` to X-Forwarded-For. */
  function via(h: Harness, proxyIp: string, clientIp: string, sent?: string): Client {
    const c = new Client(h, 'curl/8.5.0', proxyIp);
    c.always = { 'x-forwarded-for': sent ? `${sent}, ${clientIp}` : clientIp };
    return c;
  }
  /** The app's events so far, oldest first (the audit file is written asynchronously). */
  const events = (h: Harness) => h.app.state.monitor.history.recent(200);
  const madeUp = (i: number) => `nobody-${i}@example.com`;
  const IP_MAX = 6;
  const rateLimit = { accountMax: 5, ipMax: IP_MAX, windowMs: 15 * 60_000, untrustedMax: 50, signupMax: 50 };

  it('with one trusted hop, one anonymous client failing on made-up emails no longer blocks sign-in for every other visitor; the session layer records the client address', async () => {
    const h = await start({ trustProxy: { hops: 1 }, rateLimit });
    try {
      await via(h, '127.0.6.1', '198.51.100.7').signup('behind-proxy@example.com');
      // SW_RATE_IP_MAX failures, one attacker; a forged left part of the header changes nothing.
      for (let i = 0; i < IP_MAX; i++) expect((await via(h, '127.0.6.1', '203.0.113.9', `192.0.2.${i}`).signin(madeUp(i), 'guess')).status).toBe(401);
      expect((await via(h, '127.0.6.1', '203.0.113.9', '192.0.2.77').signin(madeUp(99), 'guess')).status).toBe(429);
      // Another visitor, no device cookie, same proxy socket: signs in.
      const visitor = via(h, '127.0.6.1', '198.51.100.8');
      expect((await visitor.signin('behind-proxy@example.com')).location).toBe('/account');
      const records = await h.store.listByUser(events(h).find((l) => l.type === 'signin.success')!.userId as string, h.clock.now());
      expect(records.map((r) => r.meta.ip).sort()).toEqual(['198.51.100.7', '198.51.100.8']);
      expect(events(h).filter((l) => l.type === 'signin.failure').map((l) => l.ip)).toEqual(Array<string>(IP_MAX).fill('203.0.113.9'));
    } finally {
      await h.close();
    }
  });

  it('by default X-Forwarded-For is not believed: a client cannot leave its address\'s limit by writing the header', async () => {
    const h = await start({ rateLimit });
    try {
      for (let i = 0; i < IP_MAX; i++) expect((await via(h, '127.0.6.2', `203.0.113.${i}`).signin(madeUp(i), 'guess')).status).toBe(401);
      expect((await via(h, '127.0.6.2', '203.0.113.200').signin(madeUp(99), 'guess')).status).toBe(429);
      expect(new Set(events(h).filter((l) => l.type === 'signin.failure').map((l) => l.ip))).toEqual(new Set(['127.0.6.2']));
    } finally {
      await h.close();
    }
  });

  it('with proxy addresses, the header is believed only from those addresses (CIDR ranges too)', async () => {
    const h = await start({ trustProxy: { addresses: ['127.0.7.0/24', '::1'] } });
    try {
      await via(h, '127.0.7.1', '198.51.100.9').get('/signin');
      await via(h, '127.0.8.1', '198.51.100.10').get('/signin');
      await via(h, '127.0.7.1', '198.51.100.11', '127.0.7.5').post('/signin', { email: madeUp(1), password: 'guess' }, { csrf: null });
      expect(events(h).filter((l) => l.type === 'csrf.rejected').map((l) => l.ip)).toEqual(['198.51.100.11']);
      await via(h, '127.0.8.1', '198.51.100.12').post('/signin', { email: madeUp(1), password: 'guess' }, { csrf: null });
      expect(events(h).filter((l) => l.type === 'csrf.rejected').map((l) => l.ip)).toEqual(['198.51.100.11', '127.0.8.1']);
    } finally {
      await h.close();
    }
  });

  it('TRUST_PROXY is off unless set, takes a hop count or addresses, and refuses anything else at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-proxy-'));
    const env = (v?: string) => loadEnvConfig({ DATA_DIR: dir, ...(v === undefined ? {} : { TRUST_PROXY: v }) }).trustProxy;
    try {
      expect(env()).toBeUndefined();
      expect(env('0')).toBeUndefined();
      expect(env('2')).toEqual({ hops: 2 });
      expect(env('10.0.0.1, 10.1.0.0/16, fd00::/8')).toEqual({ addresses: ['10.0.0.1', '10.1.0.0/16', 'fd00::/8'] });
      for (const bad of ['true', 'proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1', '-1']) expect(() => env(bad)).toThrow(/TRUST_PROXY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reference app: sign-up tells nobody which emails are registered', () => {
  let h: Harness;
  beforeAll(async () => {
    // /metrics opened by name: a stranger reads the counters, so they must not tell either.
    h = await start({ rateLimit: { accountMax: 5, ipMax: 20, windowMs: 15 * 60_000, untrustedMax: 50, signupMax: 3 }, metricsToken: undefined, metricsPublic: true });
  });
  afterAll(async () => h.close());

  /** Every public sample (METRICS_PUBLIC), counters and gauges alike: series -> value. */
  async function eventCounts(): Promise<Map<string, number>> {
    const text = await (await fetch(`${h.base}/metrics`)).text();
    return new Map([...text.matchAll(/^(\w+(?:\{[^}]*\})?) (\d+(?:\.\d+)?)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  }

  /** Everything a stranger sees of one sign-up: the answer, the page it leads to, and /metrics. */
  async function probe(ip: string, email: string, password: string) {
    const c = new Client(h, 'curl/8.5.0', ip);
    await c.get('/signup');
    const counts = await eventCounts();
    const r = await c.post('/signup', { email, password, confirm: password });
    const after = await eventCounts();
    const next = await c.get(r.location ?? '/');
    // Per-session values (CSRF token, cookie values) differ between any two visitors; the email is the probe's own input.
    const mask = (body: string) => body.replaceAll(email, 'EMAIL').replace(/(name="_csrf" value=|name="csrf-token" content=)"[^"]*"/g, '$1"TOKEN"');
    const cookieNames = (x: Res) => x.headers.getSetCookie().map((sc) => sc.split('=')[0]).sort();
    // Every header but the clock and the cookies (compared by name); Content-Length must be the
    // body's own length, and the bodies are compared masked.
    const headers = (x: Res) => {
      expect(Number(x.headers.get('content-length') ?? Buffer.byteLength(x.body))).toBe(Buffer.byteLength(x.body));
      return Object.fromEntries([...x.headers].filter(([k]) => !['date', 'set-cookie', 'content-length'].includes(k)));
    };
    return {
      client: c,
      seen: {
        status: r.status,
        headers: headers(r),
        cookies: cookieNames(r),
        body: mask(r.body),
        events: [...after].filter(([type, n]) => n !== (counts.get(type) ?? 0)).map(([type, n]) => `${type} +${n - (counts.get(type) ?? 0)}`).sort(),
        nextStatus: next.status,
        nextHeaders: headers(next),
        nextCookies: cookieNames(next),
        nextBody: mask(next.body),
      },
    };
  }

  it('a sign-up for a registered email answers exactly like one for a free email, signs nobody in and leaves the owner\'s account as it was', async () => {
    const owner = new Client(h, undefined, '127.0.0.20');
    await owner.signup('taken@example.com');
    const before = h.app.state.accounts.byEmail('taken@example.com')!;

    const taken = await probe('127.0.0.21', 'taken@example.com', 'attacker password 1');
    const free = await probe('127.0.0.22', 'free@example.com', 'attacker password 1');
    expect(taken.seen).toEqual(free.seen);
    expect(taken.seen.status).toBe(303);
    expect(taken.seen.headers.location).toBe('/signin?reason=signed-up');
    // Nobody is signed in: the anonymous session from the form page stays as it was.
    expect(taken.seen.cookies).toEqual([]);
    expect(taken.seen.nextBody).toContain('If this email can be used, your account is ready');

    // The requester is not signed in as the owner, and the password it chose is not the owner's.
    expect((await taken.client.get('/account')).location).toBe('/signin');
    expect((await taken.client.signin('taken@example.com', 'attacker password 1')).status).toBe(401);
    expect(h.app.state.accounts.byEmail('taken@example.com')).toEqual(before);
    expect((await owner.get('/account')).status).toBe(200);
    expect((await new Client(h, undefined, '127.0.0.23').signin('taken@example.com')).location).toBe('/account');
    // The free email did get an account, usable after an explicit sign-in.
    expect((await free.client.get('/account')).location).toBe('/signin');
    expect((await free.client.signin('free@example.com', 'attacker password 1')).location).toBe('/account');
    // The operator sees the attempt on the owner's account.
    expect(h.app.state.monitor.history.recent(50).some((e) => e.type === 'signup.existing_email' && e.userId === before.id)).toBe(true);
  });

  it('sign-ups from one address past the limit get 429 with Retry-After (registered email or not); form mistakes do not count; other addresses are not held up', async () => {
    const ip = '127.0.0.30';
    const c = new Client(h, undefined, ip);
    await c.get('/signup');
    expect((await c.post('/signup', { email: 'limit-typo@example.com', password: PASSWORD, confirm: `${PASSWORD}!` })).status).toBe(400);
    for (const email of ['limit-1@example.com', 'taken@example.com', 'limit-2@example.com']) {
      expect((await probe(ip, email, PASSWORD)).seen.headers.location).toBe('/signin?reason=signed-up');
    }
    const free = await probe(ip, 'limit-3@example.com', PASSWORD);
    const taken = await probe(ip, 'taken@example.com', PASSWORD);
    expect(free.seen.status).toBe(429);
    expect(Number(free.seen.headers['retry-after'])).toBeGreaterThan(0);
    expect(taken.seen).toEqual(free.seen);
    expect(h.app.state.accounts.byEmail('limit-3@example.com')).toBeNull();
    const json = await c.post('/signup', { email: 'limit-3@example.com', password: PASSWORD, confirm: PASSWORD }, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(429);
    expect(JSON.parse(json.body)).toEqual({ error: 'ERR_THROTTLED' });

    expect((await probe('127.0.0.31', 'limit-4@example.com', PASSWORD)).seen.headers.location).toBe('/signin?reason=signed-up');
    h.clock.advance(15 * 60_000 + 1);
    expect((await probe(ip, 'limit-3@example.com', PASSWORD)).seen.headers.location).toBe('/signin?reason=signed-up');
    expect(h.app.state.accounts.byEmail('limit-3@example.com')).not.toBeNull();
  });
});

describe('reference app: private pages are never cached', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await start({ demo: { email: 'admin@example.com', password: PASSWORD } });
  });
  afterAll(async () => h.close());

  /** GET every route the router knows (params filled in), as this visitor; returns path -> Cache-Control. */
  async function cacheHeaders(c: Client): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const r of h.app.routes) {
      if (r.method !== 'GET') continue;
      const path = r.path.replace(/:[a-z]+/gi, 'x');
      const cookie = [c.cookie, ...[...c.jar].map(([k, v]) => `${k}=${v}`)].filter(Boolean).join('; ');
      // The live feed never ends: its headers are all this test needs.
      const res = await request(h.base + path, { method: 'GET', headers: { cookie, 'user-agent': c.ua, accept: path === '/admin/feed' ? 'text/event-stream' : 'text/html' }, untilHeaders: true });
      out.set(`${r.path} (${res.status})`, res.headers.get('cache-control'));
    }
    return out;
  }

  it('SEC-13: every GET route the router knows answers Cache-Control: no-store, to an admin, a half-signed-in user and an anonymous visitor', async () => {
    const admin = new Client(h);
    expect((await admin.signin('admin@example.com')).location).toBe('/account');
    await new Client(h).signup('pending@example.com');
    const user = h.app.state.accounts.byEmail('pending@example.com')!;
    h.app.state.accounts.setTotp(user.id, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    const pending = new Client(h);
    expect((await pending.signin('pending@example.com')).location).toBe('/signin/2fa');
    const anonymous = new Client(h);
    await anonymous.get('/signin');

    const gets = h.app.routes.filter((r) => r.method === 'GET');
    // Enough routes to be sure the walk is not empty, including each kind of gate.
    for (const gate of ['user', 'admin', 'pending', undefined]) expect(gets.some((r) => r.options.auth === gate)).toBe(true);
    for (const visitor of [admin, pending, anonymous]) {
      const seen = await cacheHeaders(visitor);
      expect(seen.size).toBe(gets.length);
      expect([...seen].filter(([, cc]) => cc !== 'no-store')).toEqual([]);
    }
    // The admin really reached the admin-only pages (not just a redirect to sign-in).
    expect((await admin.get('/admin')).status).toBe(200);
  });
});

describe('reference app: what anonymous visitors see', () => {
  it('/security shows an anonymous visitor no file system path (store file, data directory, working directory); an administrator sees the store location', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-app-paths-'));
    // The store exactly as `npm start` opens it by default: embedded SQLite in the data directory.
    const opened = await openStore({}, dir, () => undefined);
    const h = await start({ store: opened.store, storeLabel: opened.label, storeLocation: opened.location, demo: { email: 'admin@example.com', password: PASSWORD } });
    try {
      const anonymous = await new Client(h).get('/security');
      expect(anonymous.status).toBe(200);
      expect(anonymous.body).toContain('SQLite');
      for (const secret of [dir, h.dir, process.cwd(), 'sessions.db']) expect(anonymous.body).not.toContain(secret);
      // No absolute path of any kind (POSIX or Windows) in the text of the page.
      const text = anonymous.body.replace(/<[^>]*>/g, ' ');
      expect(text).not.toMatch(/(?:^|[\s(])(?:\/[\w.-]+){2,}/);
      expect(text).not.toMatch(/[A-Z]:\\/);

      // A signed-in non-admin is no different.
      const user = new Client(h);
      await user.signup('paths@example.com');
      const userView = await user.get('/security');
      for (const secret of [dir, 'sessions.db']) expect(userView.body).not.toContain(secret);

      const admin = new Client(h);
      expect((await admin.signin('admin@example.com')).location).toBe('/account');
      expect((await admin.get('/security')).body).toContain(join(dir, 'sessions.db'));
    } finally {
      await h.close();
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reference app: production cookie settings', () => {
  it('SEC-6: in HTTPS mode the app issues __Host-sid with Secure, and drops the development banner', async () => {
    const h = await start({ https: true });
    try {
      const r = await fetch(`${h.base}/signin`);
      const body = await r.text();
      const sc = r.headers.getSetCookie().find((c) => c.startsWith('__Host-sid='));
      expect(sc).toBeDefined();
      expect(sc).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
      expect(sc).not.toMatch(/Domain=/i);
      expect(body).not.toContain('data-testid="dev-banner"');
    } finally {
      await h.close();
    }
  });
});

describe('reference app: /metrics', () => {
  it('is closed by default: without a token it answers 401 to everyone; with one only to its bearer; METRICS_PUBLIC opens it by name', async () => {
    const closed = await start({ metricsToken: undefined });
    const withToken = await start();
    const open = await start({ metricsToken: undefined, metricsPublic: true });
    try {
      for (const auth of [undefined, 'Bearer ', `Bearer ${METRICS_TOKEN}`]) {
        const r = await fetch(`${closed.base}/metrics`, { headers: auth ? { authorization: auth } : {} });
        expect(r.status).toBe(401);
        expect(await r.text()).toBe('');
      }
      expect((await fetch(`${withToken.base}/metrics`)).status).toBe(401);
      expect((await fetch(`${withToken.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
      expect((await scrape(withToken.base)).status).toBe(200);
      expect((await fetch(`${open.base}/metrics`)).status).toBe(200);
      const dir = mkdtempSync(join(tmpdir(), 'sw-metrics-'));
      try {
        const generated = loadEnvConfig({ DATA_DIR: dir });
        expect(generated).toMatchObject({ metricsPublic: false, metricsTokenGenerated: true });
        expect(generated.metricsToken!.length).toBeGreaterThanOrEqual(32);
        expect(loadEnvConfig({ DATA_DIR: dir }).metricsToken).not.toBe(generated.metricsToken);
        expect(loadEnvConfig({ DATA_DIR: dir, METRICS_TOKEN: METRICS_TOKEN })).toMatchObject({ metricsToken: METRICS_TOKEN, metricsTokenGenerated: false, metricsPublic: false });
        expect(loadEnvConfig({ DATA_DIR: dir, METRICS_PUBLIC: '1' })).toMatchObject({ metricsToken: undefined, metricsPublic: true });
        expect(() => loadEnvConfig({ DATA_DIR: dir, METRICS_PUBLIC: '1', METRICS_TOKEN: METRICS_TOKEN })).toThrow(/not both/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await Promise.all([closed.close(), withToken.close(), open.close()]);
    }
  });

  it('concurrent scrapes share one active-session count: the store is asked once per account, not once per account per scrape', async () => {
    const h = await start({ metricsToken: undefined, metricsPublic: true });
    try {
      for (let i = 0; i < 8; i++) await new Client(h).signup(`scrape-${i}@example.com`);
      let asked = 0;
      const list = h.store.listByUser.bind(h.store);
      h.store.listByUser = (userId, now) => {
        asked++;
        return list(userId, now);
      };
      const bodies = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${h.base}/metrics`)).text()));
      for (const b of bodies) expect(b).toMatch(/^sessionward_active_sessions 8$/m);
      expect(asked).toBe(8);
      await Promise.all(Array.from({ length: 20 }, () => fetch(`${h.base}/metrics`).then((r) => r.text())));
      expect(asked).toBe(8);
    } finally {
      await h.close();
    }
  });
});

describe('reference app: password hashing cost', () => {
  it('hashes with scrypt N=2^17, r=8, p=1 by default and refuses a lower cost, from the environment or in code; the low-cost test setting needs NODE_ENV=test', async () => {
    expect(SCRYPT_MIN_LOG_N).toBe(17);
    expect(scryptCost({})).toBe(17);
    expect(scryptCost({ scryptLogN: 18 })).toBe(18);
    for (const low of [16, 15, 14, 10]) expect(() => scryptCost({ scryptLogN: low })).toThrow(/at least|OWASP/);
    expect(scryptCost({ insecureTestScrypt: true }, { NODE_ENV: 'test' })).toBe(10);
    expect(() => scryptCost({ insecureTestScrypt: true }, { NODE_ENV: 'production' })).toThrow(/tests only/);
    expect(() => scryptCost({ insecureTestScrypt: true }, {})).toThrow(/tests only/);
    const dir = mkdtempSync(join(tmpdir(), 'sw-scrypt-'));
    try {
      expect(loadEnvConfig({ DATA_DIR: dir }).scryptLogN).toBe(17);
      expect(() => loadEnvConfig({ DATA_DIR: dir, SW_SCRYPT_LOG_N: '15' })).toThrow(/SW_SCRYPT_LOG_N/);
      await expect(
        createApp({ dataDir: dir, store: new MemoryStore(), storeLabel: 'memory', secrets: [SECRET], https: false, idleMs: 60_000, absoluteMs: 3_600_000, warnMs: 1000, stepUpMs: 60_000, rateLimit: { accountMax: 5, ipMax: 20, windowMs: 60_000, untrustedMax: 50 }, scryptLogN: 15, demo: null, demoRoles: false, auditFile: null }),
      ).rejects.toThrow(/OWASP/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a right password whose hash is weaker than the configured cost is hashed again at sign-in; a wrong one changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-rehash-'));
    const file = join(dir, 'accounts.db');
    // Stand-ins for 2^15 -> 2^17 that keep the test fast: the rule is "below the configured cost".
    const old = new Accounts(file, Date.now, 10);
    const stronger = new Accounts(file, Date.now, 11);
    try {
      const user = (await old.create('rehash@example.com', PASSWORD))!;
      expect(user.passwordHash).toMatch(/^scrypt\$10\$8\$1\$/);
      expect(await stronger.authenticate('rehash@example.com', 'not the password')).toBeNull();
      expect(stronger.byId(user.id)!.passwordHash).toBe(user.passwordHash);
      expect(await stronger.authenticate('rehash@example.com', PASSWORD)).not.toBeNull();
      const after = stronger.byId(user.id)!;
      expect(after.passwordHash).toMatch(/^scrypt\$11\$8\$1\$/);
      expect(after.passwordChangedAt).toBe(user.passwordChangedAt);
      expect(await stronger.authenticate('rehash@example.com', PASSWORD)).not.toBeNull();
      // A stronger hash is never weakened by a lower setting.
      expect(await old.authenticate('rehash@example.com', PASSWORD)).not.toBeNull();
      expect(old.byId(user.id)!.passwordHash).toBe(after.passwordHash);
    } finally {
      old.close();
      stronger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reference app: secret key ring', () => {
  it('generates secret.key once with mode 0600, reuses it, and refuses short SESSION_SECRETS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-app-key-'));
    try {
      const first = loadSecrets({}, dir);
      expect(first.secrets).toHaveLength(1);
      expect(Buffer.byteLength(first.secrets[0]!)).toBeGreaterThanOrEqual(32);
      expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
      expect(loadSecrets({}, dir).secrets).toEqual(first.secrets);
      expect(loadSecrets({ SESSION_SECRETS: `${'n'.repeat(32)},${'o'.repeat(32)}` }, dir).secrets).toEqual(['n'.repeat(32), 'o'.repeat(32)]);
      expect(() => loadSecrets({ SESSION_SECRETS: 'too-short' }, dir)).toThrow(/32 bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
