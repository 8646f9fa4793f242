/**
 * The reference app's security dashboard, through real requests: who fails most (addresses and
 * accounts), throttled apart from failed, MFA adoption, anomalies by signal and the action taken,
 * bound vs unbound sessions, a history that survives a restart (the app's SQLite), and counters
 * on /metrics that move with it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp, type App } from '../app/lib/app.js';
import type { AppConfig } from '../app/lib/state.js';
import type { Stats } from '../app/lib/dashboard.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { totpAt } from './helpers/totp.js';

const PASSWORD = 'correct horse battery';
const METRICS_TOKEN = 'metrics-test-token-0123456789';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Running {
  app: App;
  base: string;
  close(): Promise<void>;
}

/** The app on a SQLite session store in `dir`: a second start on the same dir is a restart. */
async function start(dir: string, clock: { t: number }, over: Partial<AppConfig> = {}): Promise<Running> {
  const store = new SqliteStore({ filename: join(dir, 'sessions.db'), sweepIntervalMs: 0 });
  const app = await createApp({
    dataDir: dir,
    store,
    storeLabel: 'SQLite',
    secrets: ['dashboard-test-secret-0123456789-abcdef'],
    https: false,
    idleMs: 30 * 60_000,
    absoluteMs: 12 * 3_600_000,
    warnMs: 60_000,
    stepUpMs: 5 * 60_000,
    rateLimit: { accountMax: 3, ipMax: 20, windowMs: 15 * 60_000, untrustedMax: 50, signupMax: 50 },
    insecureTestScrypt: true,
    metricsToken: METRICS_TOKEN,
    demo: null,
    demoRoles: true,
    auditFile: join(dir, 'audit.jsonl'),
    clock: () => clock.t,
    log: () => undefined,
    ...over,
  });
  const server = http.createServer(app.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app.setOrigins([base]);
  return {
    app,
    base,
    async close() {
      await app.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    },
  };
}

/** A cookie-keeping browser-like client on its own loopback source address. */
class Client {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(
    public run: Running,
    readonly ip = '127.0.0.1',
    readonly ua = CHROME,
  ) {}

  req(method: string, path: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: string; location: string | null }> {
    const h: Record<string, string> = { 'user-agent': this.ua, ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (method !== 'GET') {
      Object.assign(h, { origin: this.run.base, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' });
      body = new URLSearchParams({ _csrf: this.csrf, ...form }).toString();
    }
    return new Promise((resolve, reject) => {
      const r = http.request(this.run.base + path, { method, headers: h, localAddress: this.ip, agent: false }, (res) => {
        for (const sc of res.headers['set-cookie'] ?? []) {
          const [pair] = sc.split(';');
          const eq = pair!.indexOf('=');
          if (/max-age=0/i.test(sc)) this.cookies.delete(pair!.slice(0, eq));
          else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const m = /name="_csrf" value="([^"]+)"/.exec(text) ?? /<meta name="csrf-token" content="([^"]+)"/.exec(text);
          if (m) this.csrf = m[1]!;
          resolve({ status: res.statusCode!, body: text, location: (res.headers.location as string | undefined) ?? null });
        });
      });
      r.on('error', reject);
      r.end(body);
    });
  }

  async signup(email: string): Promise<void> {
    await this.req('GET', '/signup');
    expect((await this.req('POST', '/signup', { email, password: PASSWORD, confirm: PASSWORD })).location).toBe('/signin?reason=signed-up');
    await this.signin(email);
    // The signed-in page carries the new session's CSRF token.
    await this.req('GET', '/account');
  }

  async signin(email: string, password = PASSWORD): Promise<{ status: number; location: string | null }> {
    await this.req('GET', '/signin');
    return this.req('POST', '/signin', { email, password });
  }

  async stats(): Promise<Stats> {
    const r = await this.req('GET', '/admin/stats.json', undefined, { accept: 'application/json' });
    expect(r.status).toBe(200);
    return JSON.parse(r.body) as Stats;
  }
}

async function metrics(run: Running): Promise<string> {
  return (await fetch(`${run.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
}

const sample = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

describe('reference app: security dashboard', () => {
  it('shows top failing addresses and accounts, throttled apart from failed, MFA adoption, anomalies and bound/unbound sessions — and keeps them across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-dash-'));
    dirs.push(dir);
    const clock = { t: Date.UTC(2026, 0, 1, 12) };
    let run = await start(dir, clock);

    const admin = new Client(run);
    await admin.signup('admin@example.com');
    expect((await admin.req('POST', '/account/role', { role: 'admin' })).location).toBe('/account');
    const victim = new Client(run, '127.0.0.2');
    await victim.signup('victim@example.com');
    const other = new Client(run, '127.0.0.2');
    await other.signup('other@example.com');
    // MFA for one account of three.
    const enrol = await other.req('GET', '/account/2fa');
    const secret = /data-secret="([A-Z2-7]+)"/.exec(enrol.body)![1]!;
    expect((await other.req('POST', '/account/2fa/enable', { code: totpAt(secret, clock.t) })).location).toBe('/account');

    const before = await metrics(run);
    // One attacker address: 3 wrong passwords for the victim, then throttled (429) twice.
    const attacker = new Client(run, '127.0.0.66');
    for (let i = 0; i < 3; i++) expect((await attacker.signin('victim@example.com', 'wrong password 1')).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await attacker.signin('victim@example.com', 'wrong password 2')).status).toBe(429);
    // Another address: one wrong password, and one for an email nobody registered.
    const typo = new Client(run, '127.0.0.77');
    expect((await typo.signin('other@example.com', 'nope nope nope')).status).toBe(401);
    expect((await typo.signin('nobody-here@example.com', 'nope nope nope')).status).toBe(401);
    // The victim's cookie used from another browser family: one soft signal, only logged (SEC-35).
    const thief = new Client(run, '127.0.0.1', 'curl/8.5.0');
    thief.cookies = new Map(victim.cookies);
    expect((await thief.req('GET', '/account')).status).toBe(200);

    const s = await admin.stats();
    expect(s.topIps[0]).toEqual({ ip: '127.0.0.66', failed: 3, throttled: 2 });
    expect(s.topIps).toContainEqual({ ip: '127.0.0.77', failed: 2, throttled: 0 });
    expect(s.topAccounts[0]).toMatchObject({ email: 'victim@example.com', failed: 3, throttled: 2 });
    expect(s.topAccounts).toContainEqual(expect.objectContaining({ email: 'other@example.com', failed: 1, throttled: 0 }));
    expect(s.topAccounts).toHaveLength(2);
    expect(s.signins).toMatchObject({ failed: 5, throttled: 2 });
    expect(s.signins.success).toBeGreaterThanOrEqual(3);
    expect(s.mfa).toEqual({ accounts: 3, enabled: 1, rate: 1 / 3 });
    expect(s.anomalies).toContainEqual({ signal: 'ua_change', action: 'log', count: 1 });
    // No DBSC over plain HTTP: every live session is unbound.
    expect(s.activeSessions).toBeGreaterThanOrEqual(3);
    expect(s).toMatchObject({ boundSessions: 0, unboundSessions: s.activeSessions });
    expect(s.cookie.total).toBeGreaterThan(0);
    expect(s.series.data.throttled.reduce((a, b) => a + b, 0)).toBe(2);

    // The page shows the same tables.
    const page = await admin.req('GET', '/admin');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/data-testid="top-ips"[\s\S]*127\.0\.0\.66/);
    expect(page.body).toMatch(/data-testid="anomalies"[\s\S]*ua_change/);
    expect(page.body).toContain('1 of 3');

    // Counters for rate(): they moved by exactly what happened.
    const after = await metrics(run);
    expect(sample(after, 'sessionward_auth_total{outcome="failure"}') - sample(before, 'sessionward_auth_total{outcome="failure"}')).toBe(5);
    expect(sample(after, 'sessionward_auth_total{outcome="throttled"}') - sample(before, 'sessionward_auth_total{outcome="throttled"}')).toBe(2);
    expect(sample(after, 'app_events_total{type="signin.failure"}') - sample(before, 'app_events_total{type="signin.failure"}')).toBe(5);
    // At least the detector's one; the manager's own `session.anomaly` for the same request is
    // counted under the same labels by the library's classify (reported to the lead, not changed here).
    expect(sample(after, 'sessionward_anomalies_total{signal="ua_change",action="log"}')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'app_events_total{type="mfa.enabled"}')).toBe(1);

    // Unknown emails are typos or guesses: recorded nowhere.
    await run.close();
    expect(readFileSync(join(dir, 'security.db')).includes('nobody-here')).toBe(false);

    // Restart on the same data directory: the history is still there.
    clock.t += 60_000;
    run = await start(dir, clock);
    admin.run = run;
    const again = await admin.stats();
    expect(again.topIps).toEqual(s.topIps);
    expect(again.topAccounts).toEqual(s.topAccounts);
    expect(again.anomalies).toEqual(s.anomalies);
    expect(again.signins).toEqual(s.signins);
    expect(again.cookie.total).toBeGreaterThanOrEqual(s.cookie.total);
    expect((await admin.req('GET', '/admin')).body).toMatch(/<ol class="feed"[\s\S]*signin\.rate_limited/);
    await run.close();
  });

  it('serves the library\'s browser module (sessionward/client) that the page script imports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-dash-'));
    dirs.push(dir);
    const run = await start(dir, { t: Date.UTC(2026, 0, 1, 12) });
    const mod = await fetch(`${run.base}/static/sessionward-client.js`);
    expect(mod.status).toBe(200);
    expect(mod.headers.get('content-type')).toMatch(/^text\/javascript/);
    const text = await mod.text();
    expect(text).toMatch(/export function createSessionClient\(/);
    // Plain JavaScript a browser runs: no type annotations left.
    expect(text).not.toMatch(/: SessionClientOptions|export type|export interface/);
    const page = await (await fetch(`${run.base}/signin`)).text();
    expect(page).toContain('<script src="/static/session.js" type="module"></script>');
    await run.close();
  });

  it('the dashboard is for administrators only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-dash-'));
    dirs.push(dir);
    const run = await start(dir, { t: Date.UTC(2026, 0, 1, 12) });
    const user = new Client(run);
    await user.signup('user@example.com');
    expect((await user.req('GET', '/admin/stats.json', undefined, { accept: 'application/json' })).status).toBe(403);
    expect((await new Client(run).req('GET', '/admin/stats.json', undefined, { accept: 'application/json' })).status).toBe(401);
    await run.close();
  });
});
