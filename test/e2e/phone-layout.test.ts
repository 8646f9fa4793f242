/**
 * The reference app on a phone (issue 16): headless Chromium at 390×844 visits every page — signed
 * out, signed in, half signed in (second step) and as an administrator — and checks on each that
 *  - the page is no wider than the viewport (`document.documentElement.scrollWidth <= innerWidth`),
 *    and no box inside it scrolls sideways either (a hidden column is as unreadable as a wide page);
 *  - no table cell is narrower than its longest word: every word of a visible cell sits on one line
 *    inside the cell (an email broken letter by letter fails);
 *  - on the sign-in and sign-up pages the form is the first thing in the main content: its heading
 *    is the first heading of <main>, nothing but a status message is above or beside its card, and
 *    the submit button is on the first screen.
 * The two tables are also checked at tablet and desktop widths, where the dashboard's half-width
 * card used to break emails too. Phone screenshots go to test-artifacts/phone-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, ROOT, startApp, stopApp, type RunningApp } from '../helpers/app-server.js';
import { totpAt } from '../helpers/totp.js';

const PHONE = { width: 390, height: 844 };
const PASSWORD = 'phone layout password 0123';
const FIREFOX_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0';
const ARTIFACTS = join(ROOT, 'test-artifacts');

/** What is wrong with the layout of the page as shown now; [] when nothing. Runs in the page. */
function layoutProblems(): string[] {
  const problems: string[] = [];
  const root = document.documentElement;
  if (root.scrollWidth > innerWidth) problems.push(`page is ${root.scrollWidth - innerWidth} px wider than the ${innerWidth} px viewport`);
  // Visually hidden things (.sr-only, a table header kept for screen readers) are 1 px boxes that clip.
  const hidden = (el: Element | null): boolean => {
    for (; el && el !== document.body; el = el.parentElement) {
      const r = el.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1) return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const { overflowX } = getComputedStyle(el);
    if ((overflowX === 'auto' || overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1 && !hidden(el)) {
      problems.push(`<${el.tagName.toLowerCase()} class="${el.className}"> scrolls sideways: ${el.scrollWidth} px of content in ${el.clientWidth} px`);
    }
  }
  for (const cell of document.querySelectorAll('td, th')) {
    const box = cell.getBoundingClientRect();
    const style = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
      if (hidden(node.parentElement)) continue;
      for (const m of node.data.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = [...range.getClientRects()].filter((r) => r.width > 0);
        // A hyphenated word may wrap at its hyphen in a cell that has room for it; one that has to
        // wrap because the cell is narrower than the word is what makes an email unreadable.
        const width = lines.reduce((sum, r) => sum + r.width, 0);
        if (lines.length > 1 && width > room + 0.5) problems.push(`"${m[0]}" (${Math.round(width)} px) is broken over ${lines.length} lines in a cell with room for ${Math.round(room)} px`);
        else if (lines[0] && (lines[0].left < box.left - 0.5 || lines[0].right > box.right + 0.5)) problems.push(`"${m[0]}" sticks out of its ${Math.round(box.width)} px cell`);
      }
    }
  }
  return problems;
}

/** How the form of an auth page (`action`) sits in <main>; null when all is well. Runs in the page. */
function formFirstProblem(action: string): string | null {
  const main = document.querySelector('main')!;
  const form = main.querySelector(`form[action="${action}"]`);
  const card = form?.closest('section');
  if (!form || !card) return `no form posting to ${action} in <main>`;
  const firstHeading = main.querySelector('h1, h2, h3');
  if (!card.contains(firstHeading)) return `the first heading of <main> is "${firstHeading?.textContent}", not the form's`;
  const cardBox = card.getBoundingClientRect();
  for (const el of main.querySelectorAll('*')) {
    // The card, what holds it, and a status message above everything (e.g. "You have signed out").
    if (card.contains(el) || el.contains(card) || el.closest('main > .flash')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.top < cardBox.bottom - 0.5) return `<${el.tagName.toLowerCase()} class="${el.className}"> is above or beside the form`;
  }
  const submit = form.querySelector('button[type="submit"]')!.getBoundingClientRect();
  if (submit.bottom > innerHeight) return `the submit button ends at ${Math.round(submit.bottom)} px, below the first ${innerHeight} px screen`;
  return null;
}

describe('reference app on a 390 px phone screen', () => {
  let app: RunningApp;
  let browser: Browser;
  let phone: BrowserContext;
  let page: Page;
  const email = `e2e-${Date.now()}@example.com`;
  let totpSecret = '';

  /**
   * Open `path` (or stay, when null) and expect no layout problem in what is shown. Soft: the walk
   * goes on, so one run lists every page that does not fit (and later pages still get checked).
   */
  async function fits(path: string | null, name?: string): Promise<void> {
    if (path !== null) await page.goto(`${app.url}${path}`);
    if (name) await page.screenshot({ path: join(ARTIFACTS, `phone-${name}.png`), fullPage: true });
    const where = `${page.url().slice(app.url.length)} at ${page.viewportSize()?.width} px`;
    expect.soft(await page.evaluate(layoutProblems), where).toEqual([]);
  }

  async function formFirst(action: string): Promise<void> {
    expect.soft(await page.evaluate(formFirstProblem, action), `${page.url().slice(app.url.length)}: the form comes first`).toBeNull();
  }

  async function signIn(p: Page, password = PASSWORD): Promise<void> {
    await p.goto(`${app.url}/signin`);
    await p.getByLabel('Email').fill(email);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [app, browser] = await Promise.all([startApp({ SW_DEMO: '1' }), chromium.launch(CHROMIUM)]);
    phone = await browser.newContext({ viewport: PHONE });
    page = await phone.newPage();
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await stopApp(app);
  });

  it('signed out: sign-in, sign-up, the security explainer and the error page fit; the forms come first', async () => {
    await fits('/signin', 'signin');
    await formFirst('/signin');
    await fits('/signin?reason=signed-out');
    expect(await page.getByRole('status').first().textContent()).toContain('You have signed out');
    await formFirst('/signin');
    await fits('/signup');
    await formFirst('/signup');
    await fits('/security');
    await fits('/no-such-page');
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  });

  it('signed in with two devices: account, sessions, security, password, delete, step-up, enrolment and the admin-only page fit', async () => {
    await page.goto(`${app.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: false }).first().fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/signin\?reason=signed-up/);
    // A second device, so the sessions table has a "Sign out device" row (its widest button).
    const other = await browser.newContext({ userAgent: FIREFOX_UA });
    const otherPage = await other.newPage();
    await signIn(otherPage);
    await otherPage.waitForURL(`${app.url}/account`);
    await signIn(page);
    await page.waitForURL(`${app.url}/account`);

    await fits('/account', 'account');
    await fits('/sessions', 'sessions');
    await expect(page.getByTestId('session-row').count()).resolves.toBe(2);
    await expect(page.getByTestId('revoke-other').isVisible()).resolves.toBe(true);
    await fits('/security', 'security');
    await fits('/account/password');
    await fits('/account/delete');
    await fits('/reauth?next=/account');
    await fits('/admin');
    await page.getByRole('heading', { name: 'Administrators only' }).waitFor();
    await fits('/account/2fa', 'two-step-enrolment');
    totpSecret = (await page.getByTestId('totp-secret').getAttribute('data-secret'))!;
    await other.close();
  });

  it('second step: the code page and the two-step management page fit', async () => {
    await page.getByLabel('6-digit code').fill(totpAt(totpSecret, Date.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForURL(`${app.url}/account`);
    await fits('/account/2fa');
    await page.getByRole('heading', { name: 'Two-step verification is on' }).waitFor();

    await page.getByTestId('signout').click();
    await page.waitForURL(/\/signin\?reason=signed-out/);
    await signIn(page);
    await page.waitForURL(`${app.url}/signin/2fa`);
    await fits(null, 'second-step');
    // The enrolment code is spent; the next time step's code is inside the accepted window.
    await page.getByLabel('Authentication code').fill(totpAt(totpSecret, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${app.url}/account`);
  });

  it('administrator: the live dashboard fits, and its sessions table keeps emails whole — at tablet and desktop widths too', async () => {
    await page.getByTestId('role-toggle').click();
    await page.waitForURL(`${app.url}/account`);
    await page.goto(`${app.url}/admin`);
    // What dashboard.js draws and streams in is part of the page: measured once it is there.
    await page.locator('#feed-status', { hasText: 'live' }).waitFor();
    await page.locator('#chart-signins svg rect').first().waitFor();
    await fits(null, 'dashboard');
    const row = page.locator('#active-title + .scroll tbody tr').filter({ hasText: email }).first();
    await expect(row.isVisible()).resolves.toBe(true);
    // Administrators also see where the store lives (a long path) on the explainer.
    await fits('/security');
    await page.getByTestId('store-location').waitFor();
    await page.goto(`${app.url}/admin`);

    for (const width of [768, 1024, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await fits(null);
      await fits('/sessions');
      await page.goto(`${app.url}/admin`);
    }
  });
});
