/**
 * Device Bound Session Credentials in a real browser: headless Chromium (the system
 * /usr/bin/chromium) against the reference app over HTTPS (`HTTPS=1`, DBSC on by default there).
 * It signs in, registers a software device key, lets the short bound cookie expire, has its
 * deferred request succeed after a refresh — and a copy of its cookies replayed from another
 * browser context is refused once the bound lifetime has passed.
 *
 * Launch recipe (Chromium 156): both DBSC features in one `--enable-features` (Playwright's own
 * folded in); the self-signed certificate trusted by its SPKI pin — with
 * `--ignore-certificate-errors` Chromium silently skips registration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../..');
const PASSWORD = 'demo-password-for-dbsc-e2e';
const BOUND_MS = 4_000;
const FEATURES = [
  // Playwright's defaults, kept: its own --enable-features is replaced by this one switch.
  'CDPScreenshotNewSurface',
  'SkipListAccountsWithoutGaiaCookies',
  'DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false',
  'EnableBoundSessionCredentialsSoftwareKeysForManualTesting',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let child: ChildProcess;
let dir: string;
let url: string;
let browser: Browser;

function spkiPin(certFile: string): string {
  const der = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

async function startApp(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'sw-dbsc-'));
  child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['app/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, HTTPS: '1', SW_DBSC_BOUND_MS: String(BOUND_MS),
      DEMO_PASSWORD: PASSWORD, REDIS_URL: '', REDIS_CLUSTER_URLS: '', DATABASE_URL: '', SESSION_SECRETS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /URL\s+(https:\/\/localhost:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        url = m[1]!;
        done();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => fail(new Error(`server exited with ${code}:\n${out}`)));
  });
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${url}/signin`);
  await page.getByLabel('Email').fill('demo@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/account`);
}

/** Reload the account page until it shows the binding (registration runs after the sign-in response). */
async function bindingShown(page: Page, want: RegExp): Promise<string> {
  let text = '';
  for (let i = 0; i < 20; i++) {
    await page.goto(`${url}/account`);
    text = (await page.getByTestId('binding').textContent().catch(() => '')) ?? '';
    if (want.test(text)) return text;
    await sleep(250);
  }
  return text;
}

describe('DBSC in headless Chromium against the reference app over HTTPS', () => {
  beforeAll(async () => {
    await startApp();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      ignoreDefaultArgs: ['--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies'],
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
        `--ignore-certificate-errors-spki-list=${spkiPin(join(dir, 'tls/localhost-cert.pem'))}`,
        `--enable-features=${FEATURES.join(',')}`,
      ],
    });
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    child?.kill('SIGTERM');
    await new Promise((r) => (child?.exitCode !== null ? r(null) : child.once('exit', r)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SEC-35: registers, refreshes after the bound cookie expires, and a copied cookie is refused elsewhere', async () => {
    const device: BrowserContext = await browser.newContext();
    const page = await device.newPage();
    await signIn(page);
    expect(await bindingShown(page, /bound to this device/)).toMatch(/bound to this device/);
    const cookies = await device.cookies(url);
    expect(cookies.map((c) => c.name)).toEqual(expect.arrayContaining(['__Host-sid', '__Host-sw_dbsc']));

    // An infostealer copies the cookies into another browser that ignores their expiry.
    const thief = await browser.newContext();
    await thief.addCookies(cookies.map((c) => ({ ...c, expires: -1 })));
    const thiefPage = await thief.newPage();
    await thiefPage.goto(`${url}/account`);
    expect(thiefPage.url()).toBe(`${url}/account`);

    await sleep(BOUND_MS + 1_000);
    // Past the bound lifetime the copy is refused (it cannot refresh: no device key there).
    await thiefPage.goto(`${url}/account`);
    expect(thiefPage.url()).toMatch(/\/signin/);

    // The device's own request is deferred behind a refresh and goes through, still bound.
    await page.goto(`${url}/account`);
    expect(page.url()).toBe(`${url}/account`);
    expect(await page.getByTestId('binding').textContent()).toMatch(/bound to this device/);
    // A refresh happened: only the refresh endpoint issues a new bound cookie, and it renews the session token.
    const after = await device.cookies(url);
    const value = (list: typeof cookies, name: string) => list.find((c) => c.name === name)?.value;
    expect(value(after, '__Host-sw_dbsc')).toBeTruthy();
    expect(value(after, '__Host-sw_dbsc')).not.toBe(value(cookies, '__Host-sw_dbsc'));
    expect(value(after, '__Host-sid')).not.toBe(value(cookies, '__Host-sid'));

    // The dashboard (the demo account is an administrator) counts the bound session and the violation.
    await page.goto(`${url}/admin`);
    const kpi = async (id: string) => Number(await page.locator(`[data-kpi="${id}"]`).first().textContent());
    expect(await kpi('boundSessions')).toBeGreaterThanOrEqual(1);
    expect(await kpi('bindingViolations')).toBeGreaterThanOrEqual(1);
    await device.close();
    await thief.close();
  }, 30_000);
});
