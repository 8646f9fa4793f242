/**
 * `sessionward/client` in headless Chromium, two tabs of one browser, against a real sessionward
 * server (node adapter, memory store, 5 s idle timeout).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SessionManager, MemoryStore } from '../../src/index.js';
import { nodeSessions, sendError } from '../../src/adapters/node.js';
import { getCsrfToken, verifyCsrfToken } from '../../src/csrf/index.js';
import { SECRET } from '../helpers/core.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const IDLE = 5000;

const clientJs = ts.transpileModule(readFileSync(new URL('../../src/client/index.ts', import.meta.url), 'utf8'), {
  compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
}).outputText;

let server: http.Server;
let base = '';
let browser: Browser;
let failSignOut = false;

beforeAll(async () => {
  const manager = new SessionManager<Record<string, unknown>>({
    store: new MemoryStore(),
    secrets: [SECRET],
    idleTimeout: IDLE,
    absoluteTimeout: 120_000,
    cookie: { insecureDevelopmentCookies: true },
  });
  const sessions = nodeSessions(manager);
  server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/client.js') {
        res.setHeader('content-type', 'text/javascript');
        return void res.end(clientJs);
      }
      const session = await sessions.load(req);
      const csrfOk = () => verifyCsrfToken(session, req.headers['x-csrf-token'] as string | undefined);
      const json = async (status: number, body: unknown) => {
        await sessions.commit(session, res);
        res.statusCode = status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      };
      const remaining = () => (session.expiresAt ? session.expiresAt - Date.now() : 0);
      switch (url.pathname) {
        case '/': {
          if (url.searchParams.has('login') && !session.isAuthenticated) await session.login('ada');
          const token = session.isAuthenticated ? getCsrfToken(session) : '';
          await sessions.commit(session, res);
          res.setHeader('content-type', 'text/html');
          return void res.end(`<!doctype html><title>t</title><script type="module">
            import { createSessionClient } from '/client.js';
            window.events = [];
            const client = createSessionClient({ remainingMs: ${session.isAuthenticated ? remaining() : 0}, warnBeforeMs: 2500, csrfToken: ${JSON.stringify(token)} });
            for (const t of ['warning', 'tick', 'extended', 'signed-out', 'signed-in', 'signout-failed', 'reauth-required', 'superseded', 'unauthenticated'])
              client.on(t, (e) => window.events.push({ type: e.type, reason: e.reason, fromOtherTab: e.fromOtherTab, remainingMs: e.remainingMs }));
            window.client = client;
          </script>`);
        }
        case '/session/status':
          return json(200, { signedIn: session.isAuthenticated, remainingMs: session.isAuthenticated ? remaining() : 0 });
        case '/session/keepalive':
          if (!csrfOk()) return json(403, { error: 'ERR_CSRF' });
          session.touch();
          await sessions.commit(session, res);
          return json(200, { remainingMs: remaining() });
        case '/signout':
          if (failSignOut) return json(503, { error: 'ERR_STORE_UNAVAILABLE' });
          if (!csrfOk()) return json(403, { error: 'ERR_CSRF' });
          await session.destroy();
          return json(200, {});
        case '/api/write':
          return csrfOk() ? json(200, { ok: true }) : json(403, { error: 'ERR_CSRF' });
        case '/api/stale':
          session.requireFreshAuth(0);
          return json(200, {});
        default:
          return json(404, {});
      }
    } catch (e) {
      if (!sendError(res, e)) {
        res.statusCode = 500;
        res.end();
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

const events = (p: Page) => p.evaluate(() => (window as unknown as { events: Array<Record<string, unknown>> }).events);
const waitFor = (p: Page, type: string) =>
  p.waitForFunction((t) => (window as unknown as { events: Array<{ type: string }> }).events.some((e) => e.type === t), type, { timeout: 15_000 });

describe('sessionward/client in Chromium', () => {
  it('CSRF header on unsafe fetches, typed refusals as events, keepalive and sign-out synced across two tabs only after the server confirmed', async () => {
    const context = await browser.newContext();
    const a = await context.newPage();
    await a.goto(`${base}/?login=1`);
    const b = await context.newPage();
    await b.goto(`${base}/`);
    await a.waitForFunction(() => 'client' in window);
    await b.waitForFunction(() => 'client' in window);

    // The wrapper adds the CSRF header; a bare fetch is refused.
    expect(await a.evaluate(async () => (await (window as any).client.fetch('/api/write', { method: 'POST' })).status)).toBe(200);
    expect(await a.evaluate(async () => (await fetch('/api/write', { method: 'POST' })).status)).toBe(403);
    // A stale authentication comes back as an event the page can act on.
    expect(await a.evaluate(async () => (await (window as any).client.fetch('/api/stale')).status)).toBe(401);
    expect((await events(a)).map((e) => e.type)).toContain('reauth-required');

    // "Stay signed in" in tab A moves tab B's deadline too.
    expect(await a.evaluate(() => (window as any).client.stay())).toBe(true);
    await waitFor(b, 'extended');
    expect((await events(b)).find((e) => e.type === 'extended')).toMatchObject({ fromOtherTab: true });

    // The warning and its countdown come before the deadline.
    await waitFor(b, 'tick');
    const warn = (await events(b)).find((e) => e.type === 'warning')!;
    expect(warn.remainingMs as number).toBeLessThanOrEqual(2600);

    // A sign-out the server did not confirm is not announced: tab B stays signed in.
    failSignOut = true;
    expect(await a.evaluate(() => (window as any).client.signOut())).toBe(false);
    expect((await events(a)).map((e) => e.type)).toContain('signout-failed');
    await a.waitForTimeout(300);
    expect((await events(b)).map((e) => e.type)).not.toContain('signed-out');
    failSignOut = false;

    // A confirmed sign-out reaches tab B, and the server session is gone.
    expect(await a.evaluate(() => (window as any).client.signOut())).toBe(true);
    await waitFor(b, 'signed-out');
    expect((await events(b)).find((e) => e.type === 'signed-out')).toMatchObject({ reason: 'user', fromOtherTab: true });
    expect(await b.evaluate(async () => (await (await fetch('/session/status')).json()).signedIn)).toBe(false);
    await context.close();
  });

  it('idle deadline: both tabs sign out, after the server was asked', async () => {
    const context = await browser.newContext();
    const a = await context.newPage();
    await a.goto(`${base}/?login=1`);
    const b = await context.newPage();
    await b.goto(`${base}/`);
    await waitFor(a, 'signed-out');
    await waitFor(b, 'signed-out');
    for (const p of [a, b]) expect((await events(p)).find((e) => e.type === 'signed-out')!.reason).toBe('idle');
    expect(await a.evaluate(async () => (await (await fetch('/session/status')).json()).signedIn)).toBe(false);
    await context.close();
  });
});
