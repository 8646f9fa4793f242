/**
 * End to end in headless Chromium (playwright-core, the system /usr/bin/chromium; no browser
 * download). The tests start the real entry point (`tsx app/server.ts`, as `npm start` does) on
 * free ports with temporary data directories, plus an attacker page on another site, and stop
 * them all afterwards. The app is reached as `localhost`, the attacker as `127.0.0.1`: two sites.
 *
 * Screenshots of the main pages go to test-artifacts/ (and, with UPDATE_SCREENSHOTS=1, to the
 * README's docs/screenshots/ — a test run does not rewrite tracked files by default).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { CHROMIUM, ROOT, startApp, stopApp, type RunningApp } from '../helpers/app-server.js';
import { totpAt } from '../helpers/totp.js';
import { hasNodeSqlite } from '../../src/stores/sqlite.js';

const SHOTS = [join(ROOT, 'test-artifacts'), ...(process.env.UPDATE_SCREENSHOTS === '1' ? [join(ROOT, 'docs/screenshots')] : [])];
const PASSWORD = 'e2e password 0123';
const DEMO_PASSWORD = 'demo-password-for-e2e';
const FIREFOX_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0';

async function shot(page: Page, name: string): Promise<void> {
  const first = join(SHOTS[0]!, `${name}.png`);
  await page.screenshot({ path: first, fullPage: true });
  for (const dir of SHOTS.slice(1)) copyFileSync(first, join(dir, `${name}.png`));
}

async function sid(ctx: BrowserContext): Promise<string | undefined> {
  return (await ctx.cookies()).find((c) => c.name === 'sid')?.value;
}

/**
 * Hold this page's POST /signout at the network until the test calls `release`. `fail`: the server
 * never sees it, and on release the page gets a 503. `answer-late`: the request goes to the real
 * server at once, which ends the session and answers; that answer reaches the page only on release.
 * `arrived` resolves once the request is held (for `answer-late`, with the server's status).
 */
async function holdSignout(page: Page, url: string, how: 'fail' | 'answer-late'): Promise<{ arrived: Promise<number | null>; release: () => void }> {
  let arrive!: (status: number | null) => void;
  let release!: () => void;
  const arrived = new Promise<number | null>((r) => (arrive = r));
  const released = new Promise<void>((r) => (release = r));
  await page.unrouteAll();
  await page.route(`${url}/signout`, async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    if (how === 'fail') {
      arrive(null);
      await released;
      return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"ERR_STORE_UNAVAILABLE"}' });
    }
    const response = await route.fetch();
    arrive(response.status());
    await released;
    return route.fulfill({ response });
  });
  return { arrived, release };
}

/**
 * Messages another tab saw on the app's BroadcastChannel, by type; lost if that tab navigates.
 * Deadline updates (every signed-in page load sends one) say nothing about sign-out: left out.
 */
const RECORD = `window.__seen = []; new BroadcastChannel('sessionward-session').onmessage = (m) => { const t = m.data && m.data.type; if (t !== 'deadline') window.__seen.push(t); };`;
const PROBE = `new BroadcastChannel('sessionward-session').postMessage({ type: 'probe' })`;

/**
 * Start recording `page`'s channel messages. `left` resolves to 'navigated' as soon as the page
 * starts a navigation (the app's reaction to a sign-out): seen from here, since with a navigation
 * held by page.route the browser's script stalls and a probe might never come back.
 */
async function record(page: Page): Promise<{ left: Promise<string> }> {
  const left = new Promise<string>((resolve) => {
    const onRequest = (r: Request) => {
      if (!r.isNavigationRequest() || r.frame() !== page.mainFrame()) return;
      page.off('request', onRequest);
      resolve('navigated');
    };
    page.on('request', onRequest);
  });
  await page.evaluate(RECORD);
  // Wrapped: an async function returning the bare promise would wait for the navigation itself.
  return { left };
}

/**
 * What `to` heard of the app's channel once a probe posted later from `from` (a third tab) has
 * reached it, so a sign-out message posted before the probe has arrived by then; or 'navigated'.
 */
async function seenAfterProbe(from: Page, to: Page, left: Promise<string>, probes: number): Promise<unknown> {
  const heard = (async () => {
    await from.evaluate(PROBE);
    await to.waitForFunction(`window.__seen === undefined || window.__seen.filter((t) => t === 'probe').length >= ${probes}`, undefined, { timeout: 5000 });
    return to.evaluate('window.__seen');
  })();
  heard.catch(() => undefined);
  return Promise.race([heard, left]);
}

/**
 * Click "Sign out" in the page itself. Not locator.click(): that waits for a navigation it started,
 * and a plain form post (what the page did before the sign-out became a fetch) is held by
 * holdSignout, so the click would sit until the test timed out instead of the assertions failing.
 */
async function clickSignout(page: Page): Promise<void> {
  await page.getByTestId('signout').waitFor();
  await page.evaluate(`document.querySelector('[data-testid="signout"]').click()`);
}

/**
 * How the page dealt with its sign-out answer: it showed the error, or it started a navigation (a
 * page that wrongly followed a failed sign-out; it may even land on /account again, as the session
 * still works, so neither its URL nor a wait for the error alone would tell).
 */
async function signoutSettled(page: Page): Promise<'error shown' | 'navigated'> {
  const navigated = page
    .waitForRequest((r) => r.isNavigationRequest() && r.frame() === page.mainFrame(), { timeout: 5000 })
    .then(() => 'navigated' as const);
  const shown = page
    .locator('#signout-error')
    .waitFor({ timeout: 5000 })
    .then(() => 'error shown' as const);
  navigated.catch(() => undefined);
  shown.catch(() => undefined);
  return Promise.race([navigated, shown]);
}

describe('reference app in a real browser', () => {
  let app: RunningApp;
  let idleApp: RunningApp;
  let attacker: http.Server;
  let attackerUrl = '';
  let browser: Browser;
  let a: BrowserContext;
  let pageA: Page;
  const email = `e2e-${Date.now()}@example.com`;

  beforeAll(async () => {
    for (const d of SHOTS) mkdirSync(d, { recursive: true });
    [app, idleApp, browser] = await Promise.all([
      startApp({ DEMO_PASSWORD }),
      startApp({ SW_IDLE_MS: '8000', SW_WARN_MS: '6000', SW_DEMO: '0' }),
      chromium.launch(CHROMIUM),
    ]);
    // The attacker's site: another origin *and* another site (127.0.0.1 vs localhost).
    attacker = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><title>Win a prize</title><h1>Claim your prize</h1>
        <form id="f" method="post" action="${app.url}/sessions/revoke-all"><input type="hidden" name="_csrf" value="guess"></form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    a = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    pageA = await a.newPage();
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (attacker ? attacker.close(r) : r(undefined)));
    await Promise.all([stopApp(app), stopApp(idleApp)]);
  });

  it('prints its URL, store and how to sign in', () => {
    const out = app.output();
    expect(out).toContain(`URL         ${app.url}`);
    // The banner names the SQLite driver the store and the accounts run on (this Node's).
    expect(out).toMatch(new RegExp(`Store\\s+SQLite on ${hasNodeSqlite() ? 'node:sqlite' : 'better-sqlite3'} \\(.*sessions\\.db\\)`));
    expect(out).toContain(`demo@example.com / ${DEMO_PASSWORD}`);
    expect(out).toContain('insecureDevelopmentCookies');
  });

  it('SEC-15: sign up, sign out, sign in — the session cookie changes at sign-in', async () => {
    await pageA.goto(`${app.url}/signin`);
    await expect(pageA.getByTestId('dev-banner').isVisible()).resolves.toBe(true);
    await shot(pageA, 'signin');
    await pageA.getByRole('link', { name: 'Create one' }).click();
    await pageA.getByLabel('Email').fill(email);
    await pageA.getByLabel('Password', { exact: false }).first().fill(PASSWORD);
    await pageA.getByLabel('Repeat the password').fill(PASSWORD);
    await pageA.getByRole('button', { name: 'Create account' }).click();
    // The same neutral answer for every email: the new account signs in like any other.
    await pageA.waitForURL(`${app.url}/signin?reason=signed-up`);
    expect(await pageA.getByRole('status').first().textContent()).toContain('If this email can be used, your account is ready');
    await pageA.getByLabel('Email').fill(email);
    await pageA.getByLabel('Password').fill(PASSWORD);
    await pageA.getByRole('button', { name: 'Sign in' }).click();
    await pageA.waitForURL(`${app.url}/account`);
    expect(await pageA.getByTestId('account-email').textContent()).toBe(email);

    await pageA.getByTestId('signout').click();
    await pageA.waitForURL(/\/signin\?reason=signed-out/);
    const anonymous = await sid(a);
    expect(anonymous).toBeTruthy();
    await pageA.getByLabel('Email').fill(email);
    await pageA.getByLabel('Password').fill(PASSWORD);
    await pageA.getByRole('button', { name: 'Sign in' }).click();
    await pageA.waitForURL(`${app.url}/account`);
    const signedIn = await sid(a);
    expect(signedIn).toBeTruthy();
    expect(signedIn).not.toBe(anonymous);
    // SEC-4: the page never contains the token.
    expect(await pageA.content()).not.toContain(signedIn!.split('.')[0]);
  });

  it('SEC-39: a second browser signs in; the first signs it out from "Your sessions"', async () => {
    const b = await browser.newContext({ userAgent: FIREFOX_UA, viewport: { width: 1100, height: 800 } });
    const pageB = await b.newPage();
    await pageB.goto(`${app.url}/signin`);
    await pageB.getByLabel('Email').fill(email);
    await pageB.getByLabel('Password').fill(PASSWORD);
    await pageB.getByRole('button', { name: 'Sign in' }).click();
    await pageB.waitForURL(`${app.url}/account`);

    await pageA.goto(`${app.url}/sessions`);
    await expect(pageA.getByTestId('session-row').count()).resolves.toBe(2);
    expect(await pageA.getByTestId('sessions-table').textContent()).toContain('Firefox 128 on macOS');
    await shot(pageA, 'sessions');
    await pageA.getByTestId('revoke-other').click();
    await pageA.waitForURL(`${app.url}/sessions`);
    await expect(pageA.getByTestId('session-row').count()).resolves.toBe(1);

    await pageB.goto(`${app.url}/account`);
    expect(pageB.url()).toBe(`${app.url}/signin`);
    await b.close();
  });

  it('SEC-16/17: enrol TOTP from the secret shown; sign-in then needs the code, and the token rotates after it', async () => {
    await pageA.goto(`${app.url}/account/2fa`);
    const secret = (await pageA.getByTestId('totp-secret').getAttribute('data-secret'))!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await expect(pageA.getByRole('img', { name: /QR code/ }).isVisible()).resolves.toBe(true);
    await shot(pageA, 'two-step-enrolment');
    await pageA.getByLabel('6-digit code').fill(totpAt(secret, Date.now()));
    await pageA.getByRole('button', { name: 'Turn on' }).click();
    await pageA.waitForURL(`${app.url}/account`);
    expect(await pageA.getByRole('status').first().textContent()).toContain('Two-step verification is on');

    await pageA.getByTestId('signout').click();
    await pageA.waitForURL(/\/signin/);
    await pageA.getByLabel('Email').fill(email);
    await pageA.getByLabel('Password').fill(PASSWORD);
    await pageA.getByRole('button', { name: 'Sign in' }).click();
    await pageA.waitForURL(`${app.url}/signin/2fa`);
    // Half-authenticated: protected pages send the browser back to the code page.
    await pageA.goto(`${app.url}/account`);
    expect(pageA.url()).toBe(`${app.url}/signin/2fa`);
    const pending = await sid(a);
    // The enrolment code is spent; the next time step's code is inside the accepted window.
    await pageA.getByLabel('Authentication code').fill(totpAt(secret, Date.now() + 30_000));
    await pageA.getByRole('button', { name: 'Verify' }).click();
    await pageA.waitForURL(`${app.url}/account`);
    expect(await sid(a)).not.toBe(pending);
  });

  it('SEC-16: becoming admin rotates the token (fingerprint and generation change); the dashboard goes live', async () => {
    const fp1 = await pageA.getByTestId('session-fingerprint').textContent();
    const gen1 = Number(await pageA.getByTestId('token-generation').textContent());
    const cookie1 = await sid(a);
    await pageA.getByTestId('role-toggle').click();
    await pageA.waitForURL(`${app.url}/account`);
    expect(await pageA.getByTestId('session-fingerprint').textContent()).not.toBe(fp1);
    expect(Number(await pageA.getByTestId('token-generation').textContent())).toBe(gen1 + 1);
    expect(await sid(a)).not.toBe(cookie1);
    await shot(pageA, 'account');

    await pageA.getByRole('link', { name: 'Dashboard' }).click();
    await pageA.waitForURL(`${app.url}/admin`);
    await pageA.locator('#feed-status', { hasText: 'live' }).waitFor();
    await pageA.locator('#chart-signins svg rect').first().waitFor();
    expect(Number(await pageA.locator('[data-kpi="activeSessions"]').textContent())).toBeGreaterThanOrEqual(1);
    expect(await pageA.getByTestId('feed').textContent()).toContain('session.rotated');
  });

  it('SEC-24: a form auto-submitted from another site is blocked with 403, and the user stays signed in', async () => {
    const blocked = pageA.waitForResponse((r) => r.url() === `${app.url}/sessions/revoke-all` && r.request().method() === 'POST');
    await pageA.goto(attackerUrl);
    const response = await blocked;
    expect(response.status()).toBe(403);
    await pageA.getByRole('heading', { name: 'Request blocked' }).waitFor();
    await pageA.goto(`${app.url}/account`);
    expect(pageA.url()).toBe(`${app.url}/account`);
    expect(await pageA.getByTestId('account-email').textContent()).toBe(email);
    await pageA.goto(`${app.url}/admin`);
    expect(Number(await pageA.locator('[data-kpi="csrfBlocked"]').textContent())).toBeGreaterThanOrEqual(1);
    await pageA.locator('#feed-status', { hasText: 'live' }).waitFor();
    await pageA.locator('#chart-lifecycle svg polyline').first().waitFor();
    expect(await pageA.locator('#feed li.warn').first().textContent()).toContain('csrf.rejected');
    // A wrong password from another browser reaches the live dashboard: the failed counter, the
    // top failing accounts and the feed update without a reload (dashboard.js, stats every 3 s).
    const failedBefore = Number(await pageA.locator('[data-kpi="signinFailed"]').textContent());
    const other = await browser.newContext();
    const guess = await other.newPage();
    await guess.goto(`${app.url}/signin`);
    await guess.getByLabel('Email').fill(email);
    await guess.getByLabel('Password').fill('not the password at all');
    await guess.getByRole('button', { name: 'Sign in' }).click();
    await guess.getByText('Email or password is wrong.').waitFor();
    await other.close();
    await pageA.waitForFunction((n) => Number(document.querySelector('[data-kpi="signinFailed"]')?.textContent) > n, failedBefore, { timeout: 10_000 });
    await pageA.locator('#top-accounts tbody tr', { hasText: email }).waitFor({ timeout: 10_000 });
    await pageA.locator('#feed li.warn', { hasText: 'signin.failure' }).first().waitFor();
    await shot(pageA, 'dashboard');
  });

  it('explains each protection with the cookie attributes actually set', async () => {
    await pageA.goto(`${app.url}/security`);
    const header = await pageA.getByTestId('cookie-header').textContent();
    expect(header).toMatch(/^sid=token; path=\/; httponly; samesite=Lax$/i);
    await shot(pageA, 'security');
  });

  it('SEC-11: warns before the idle timeout, "stay signed in" extends it in every tab, then signs out all tabs', async () => {
    const c = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const tab1 = await c.newPage();
    await tab1.goto(`${idleApp.url}/signup`);
    await tab1.getByLabel('Email').fill('idle@example.com');
    await tab1.getByLabel('Password', { exact: false }).first().fill(PASSWORD);
    await tab1.getByLabel('Repeat the password').fill(PASSWORD);
    await tab1.getByRole('button', { name: 'Create account' }).click();
    await tab1.waitForURL(`${idleApp.url}/signin?reason=signed-up`);
    await tab1.getByLabel('Email').fill('idle@example.com');
    await tab1.getByLabel('Password').fill(PASSWORD);
    await tab1.getByRole('button', { name: 'Sign in' }).click();
    await tab1.waitForURL(`${idleApp.url}/account`);
    const tab2 = await c.newPage();
    await tab2.goto(`${idleApp.url}/sessions`);

    const dialog1 = tab1.getByRole('alertdialog');
    const dialog2 = tab2.getByRole('alertdialog');
    await dialog1.waitFor({ state: 'visible', timeout: 6000 });
    await dialog2.waitFor({ state: 'visible', timeout: 6000 });
    await shot(tab1, 'idle-warning');
    await tab1.getByRole('button', { name: 'Stay signed in' }).click();
    await dialog1.waitFor({ state: 'hidden' });
    // BroadcastChannel: the other tab follows the new deadline.
    await dialog2.waitFor({ state: 'hidden', timeout: 3000 });

    // No answer this time: both tabs end up on the sign-in page, and the server agrees.
    await tab1.waitForURL(/\/signin\?reason=idle/, { timeout: 12_000 });
    await tab2.waitForURL(/\/signin\?reason=idle/, { timeout: 5000 });
    expect(await tab1.getByRole('status').first().textContent()).toContain('without activity');
    await tab1.goto(`${idleApp.url}/account`);
    expect(tab1.url()).toBe(`${idleApp.url}/signin`);
    await c.close();
  }, 60_000);

  it('cross-tab sign-out: other tabs follow only after POST /signout has succeeded; a failed sign-out is not announced', async () => {
    const c = await browser.newContext();
    const tab1 = await c.newPage();
    await tab1.goto(`${app.url}/signin`);
    await tab1.getByLabel('Email').fill('demo@example.com');
    await tab1.getByLabel('Password').fill(DEMO_PASSWORD);
    await tab1.getByRole('button', { name: 'Sign in' }).click();
    await tab1.waitForURL(`${app.url}/account`);
    const tab2 = await c.newPage();
    await tab2.goto(`${app.url}/sessions`);
    let { left } = await record(tab2);
    // The prober: same origin, but no app script (a signed-in page would itself follow a sign-out).
    const tab3 = await c.newPage();
    await tab3.goto(`${app.url}/healthz`);

    // 1. The sign-out fails (503): while it is in flight and after it, tab2 hears nothing.
    const failing = await holdSignout(tab1, app.url, 'fail');
    await clickSignout(tab1);
    await failing.arrived;
    expect(await seenAfterProbe(tab3, tab2, left, 1)).toEqual(['probe']);
    failing.release();
    expect(await signoutSettled(tab1)).toBe('error shown');
    expect(tab1.url()).toBe(`${app.url}/account`);
    expect(await tab1.getByRole('alert').textContent()).toContain('did not go through');
    expect(await seenAfterProbe(tab3, tab2, left, 2)).toEqual(['probe', 'probe']);
    expect(tab2.url()).toBe(`${app.url}/sessions`);

    // 2. The real server refuses it (a wrong form token: 403): not announced either.
    await tab1.unrouteAll();
    await tab1.evaluate(`document.getElementById('signout-error').remove(); document.querySelector('form[action="/signout"] input[name="_csrf"]').value = 'forged'`);
    const refused = tab1.waitForResponse((r) => r.url() === `${app.url}/signout`);
    await clickSignout(tab1);
    expect((await refused).status()).toBe(403);
    expect(await signoutSettled(tab1)).toBe('error shown');
    expect(tab1.url()).toBe(`${app.url}/account`);
    expect(await tab1.getByRole('alert').textContent()).toContain('did not go through');
    expect(await seenAfterProbe(tab3, tab2, left, 3)).toEqual(['probe', 'probe', 'probe']);
    expect(tab2.url()).toBe(`${app.url}/sessions`);
    // The server agrees: the session still works.
    await tab2.reload();
    expect(tab2.url()).toBe(`${app.url}/sessions`);
    await tab1.reload();
    ({ left } = await record(tab2));

    // 3. A sign-out the server has done, whose answer is slow to arrive: nothing is announced until
    // the page has it, although the session is already gone on the server.
    const slow = await holdSignout(tab1, app.url, 'answer-late');
    await clickSignout(tab1);
    expect(await slow.arrived).toBe(200);
    const status = await c.request.get(`${app.url}/session/status`, { headers: { accept: 'application/json' } });
    expect(await status.json()).toMatchObject({ signedIn: false });
    expect(await seenAfterProbe(tab3, tab2, left, 1)).toEqual(['probe']);
    expect(tab2.url()).toBe(`${app.url}/sessions`);
    expect(tab1.url()).toBe(`${app.url}/account`);
    slow.release();
    await tab1.waitForURL(/\/signin\?reason=signed-out$/);
    await tab2.waitForURL(/\/signin\?reason=signed-out$/);
    await tab2.goto(`${app.url}/account`);
    expect(tab2.url()).toBe(`${app.url}/signin`);
    await c.close();
  });

  it('idle dialog: a failed "Sign out now" stays on the page, says so in the dialog and is not announced; a successful one is announced only after its answer', async () => {
    // Warned 2 s after the last activity, with 28 s left to act: the dialog is up for the whole test.
    const warnApp = await startApp({ DEMO_PASSWORD, SW_IDLE_MS: '30000', SW_WARN_MS: '28000' });
    const c = await browser.newContext();
    try {
      const tab1 = await c.newPage();
      await tab1.goto(`${warnApp.url}/signin`);
      await tab1.getByLabel('Email').fill('demo@example.com');
      await tab1.getByLabel('Password').fill(DEMO_PASSWORD);
      await tab1.getByRole('button', { name: 'Sign in' }).click();
      await tab1.waitForURL(`${warnApp.url}/account`);
      const tab2 = await c.newPage();
      await tab2.goto(`${warnApp.url}/sessions`);
      const { left } = await record(tab2);
      const tab3 = await c.newPage();
      await tab3.goto(`${warnApp.url}/healthz`);
      const dialog = tab1.getByRole('alertdialog');
      await dialog.waitFor({ state: 'visible', timeout: 10_000 });

      const failing = await holdSignout(tab1, warnApp.url, 'fail');
      await dialog.getByRole('button', { name: 'Sign out now' }).click();
      await failing.arrived;
      expect(await seenAfterProbe(tab3, tab2, left, 1)).toEqual(['probe']);
      failing.release();
      expect(await signoutSettled(tab1)).toBe('error shown');
      expect(tab1.url()).toBe(`${warnApp.url}/account`);
      expect(await dialog.getByRole('alert').textContent()).toContain('did not go through');
      expect(await seenAfterProbe(tab3, tab2, left, 2)).toEqual(['probe', 'probe']);
      expect(tab2.url()).toBe(`${warnApp.url}/sessions`);

      const slow = await holdSignout(tab1, warnApp.url, 'answer-late');
      await dialog.getByRole('button', { name: 'Sign out now' }).click();
      expect(await slow.arrived).toBe(200);
      expect(await seenAfterProbe(tab3, tab2, left, 3)).toEqual(['probe', 'probe', 'probe']);
      expect(tab1.url()).toBe(`${warnApp.url}/account`);
      slow.release();
      await tab1.waitForURL(/\/signin\?reason=signed-out$/);
      await tab2.waitForURL(/\/signin\?reason=signed-out$/);
    } finally {
      await c.close();
      await stopApp(warnApp);
    }
  }, 40_000);
});
