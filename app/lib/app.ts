/**
 * The reference app as a plain `(req, res)` handler: node:http, the `sessionward/node` adapter,
 * the CSRF module and a tiny router. `app/server.ts` wires it to the environment; tests create it
 * in-process with a temporary data directory.
 *
 * @example
 * const app = await createApp({ ...config, store: new MemoryStore() })
 * const server = http.createServer(app.handle).listen(0)
 * app.setOrigins([`http://localhost:${port}`])
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, extname } from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionManager, ReauthRequiredError, UnauthenticatedError, SessionDestroyedError, isSessionwardError, type Session } from 'sessionward';
import { nodeSessions, clientIpResolver } from 'sessionward/node';
import { DeviceBoundSessions } from 'sessionward/dbsc';
import { verifyRequestIntegrity, verifyCsrfToken, INTEGRITY_VARY, isUnsafeMethod, type CsrfFailureReason } from 'sessionward/csrf';
import { openSqlite } from 'sessionward/stores/sqlite';
import { Accounts } from './accounts.js';
import { Monitoring } from './monitoring.js';
import { Backoff, FailureLimiter } from './ratelimit.js';
import { DeviceCookies } from './device.js';
import { scryptCost } from './passwords.js';
import { Router } from './router.js';
import { Ctx } from './context.js';
import type { AppConfig, AppState, SessionData } from './state.js';
import { html } from './html.js';
import { dashboardStats, countSessions, countMfa } from './dashboard.js';
import { clientScript } from './client-script.js';
import { authRoutes } from '../routes/auth.js';
import { accountRoutes } from '../routes/account.js';
import { adminRoutes } from '../routes/admin.js';
import { infoRoutes } from '../routes/info.js';

export type Handler = (ctx: Ctx) => Promise<void>;

export interface RouteOptions {
  /** Who may call: anyone (default), a fully signed-in user, an admin, or a session waiting for its second factor. */
  auth?: 'none' | 'user' | 'admin' | 'pending';
  /**
   * `'always'` (default): unsafe requests need the synchronizer token. `'if-signed-in'`: only when
   * the session has a user (sign-out of an already expired session must still work).
   */
  csrf?: 'always' | 'if-signed-in';
  /** Where the step-up page returns to after re-authentication (default: the request path). */
  stepUpReturn?: string;
  /**
   * Run the anomaly detector on this signed-in route (default true). Off for the step-up page
   * itself: a session the detector sent there must be able to reach it.
   */
  detect?: boolean;
}

export type AppRouter = Router<Handler, RouteOptions>;

export interface App {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  state: AppState;
  /** The routes the app answers, for tests that must cover every page. */
  routes: ReadonlyArray<{ method: string; path: string; options: RouteOptions }>;
  /** Origins accepted for unsafe requests (SEC-24/25): set once the server knows its port. */
  setOrigins(origins: string[]): void;
  /** End live feeds, flush the audit log, close the accounts database (not the store: the caller owns it). */
  close(): Promise<void>;
}

const BODY_LIMIT = 16 * 1024;
const PUBLIC_DIR = new URL('../public/', import.meta.url);
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function securityHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'same-origin');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  res.setHeader('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
}

class BodyTooLarge extends Error {}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return new URLSearchParams(text);
  if (type === 'application/json' && text) {
    const out = new URLSearchParams();
    try {
      const v: unknown = JSON.parse(text);
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out.set(k, val);
      }
    } catch {
      // A malformed body is an empty body: the CSRF and field checks refuse it.
    }
    return out;
  }
  return new URLSearchParams();
}

function loadStatic(): Map<string, { body: Buffer; type: string; etag: string }> {
  const files = new Map<string, { body: Buffer; type: string; etag: string }>();
  for (const name of readdirSync(PUBLIC_DIR)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    files.set(name, staticFile(readFileSync(new URL(name, PUBLIC_DIR)), type));
  }
  return files;
}

function staticFile(body: Buffer, type: string): { body: Buffer; type: string; etag: string } {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

export async function createApp(given: AppConfig): Promise<App> {
  // Refuses a cost below the OWASP minimum before anything is opened; the security page shows the one in use.
  const config: AppConfig = { ...given, scryptLogN: scryptCost(given) };
  const clock = config.clock ?? Date.now;
  const log = config.log ?? ((l: string) => console.log(l));
  const accounts = new Accounts(join(config.dataDir, 'accounts.db'), clock, config.scryptLogN);
  if (config.demo) await accounts.upsertDemo(config.demo.email, config.demo.password);
  // The dashboard's history: its own SQLite file beside accounts.db, whatever the session store.
  // On the package's SQLite layer like accounts.db: node:sqlite where the runtime has it, so a
  // current Node loads no native addon.
  const securityDb = openSqlite(join(config.dataDir, 'security.db'));
  securityDb.exec('PRAGMA busy_timeout = 5000');
  securityDb.exec('PRAGMA journal_mode = WAL');
  const monitor = await Monitoring.open({
    db: securityDb,
    store: config.store,
    clock,
    auditFile: config.auditFile,
    activeSessions: async () => (await sessionCounts()).active,
    // Called only once requests arrive, after the manager below exists.
    hashSid: (id) => manager.sid(id),
  });
  const manager = new SessionManager<SessionData>({
    store: config.store,
    secrets: config.secrets,
    cookie: config.https ? {} : { insecureDevelopmentCookies: true },
    idleTimeout: config.idleMs,
    absoluteTimeout: config.absoluteMs,
    ...(config.touchAfterMs ? { touchAfter: config.touchAfterMs } : {}),
    clock,
    onEvent: monitor.onEvent,
    // Origin scope, not the whole site: browsers refuse `include_site` on localhost.
    ...(config.dbsc ? { guard: new DeviceBoundSessions({ boundLifetime: config.dbsc.boundMs, includeSite: false }) } : {}),
    // The banner on every page says the same thing; keep the console for the start-up message.
    warn: () => undefined,
  });

  const sessionCounts = () => countSessions(accounts, config.store, clock);
  const mfaCounts = () => countMfa(accounts);

  const { windowMs, accountMax, ipMax } = config.rateLimit;
  // 30 s after the free attempts, doubling up to the window; forgotten after two quiet windows.
  const backoff = { free: accountMax, baseMs: Math.min(30_000, windowMs), maxMs: windowMs, forgetMs: 2 * windowMs, clock };
  const state: AppState = {
    config,
    clock,
    manager,
    // The throttles, the audit log and the session layer (device list, risk signals, SEC-42) all
    // see the same client address.
    sessions: nodeSessions(manager, { getIp: clientIpResolver(config.trustProxy) }),
    accounts,
    monitor,
    stats: () => dashboardStats({ history: monitor.history, clock, sessions: sessionCounts, mfa: mfaCounts, emailOf: (id) => accounts.byId(id)?.email ?? null, lastCookie: monitor.lastCookieHeader() }),
    limits: {
      source: new Backoff(backoff),
      device: new Backoff(backoff),
      ip: new FailureLimiter({ max: ipMax, windowMs, clock }),
      untrusted: new FailureLimiter({ max: config.rateLimit.untrustedMax, windowMs, clock }),
      totp: new FailureLimiter({ max: accountMax, windowMs, clock }),
      reauth: new FailureLimiter({ max: accountMax, windowMs, clock }),
      signup: new FailureLimiter({ max: config.rateLimit.signupMax ?? 10, windowMs, clock }),
    },
    devices: new DeviceCookies(config.secrets, config.https, clock),
    origins: [],
    log,
  };

  const router: AppRouter = new Router();
  authRoutes(router);
  accountRoutes(router);
  adminRoutes(router);
  infoRoutes(router);
  const statics = loadStatic();
  // The library's browser module (idle warning, cross-tab sign-out, CSRF-aware fetch); session.js imports it.
  statics.set('sessionward-client.js', staticFile(Buffer.from(await clientScript()), TYPES['.js']!));
  const open = new Set<ServerResponse>();
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res);
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    const method = req.method ?? 'GET';

    // Session-less endpoints first: static files, metrics and health need no store round trip.
    if (url.pathname.startsWith('/static/') && (method === 'GET' || method === 'HEAD')) return serveStatic(req, res, url.pathname.slice(8));
    if (url.pathname === '/metrics' && method === 'GET') return serveMetrics(req, res);
    if (url.pathname === '/healthz') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, store: config.store.name }));
      return;
    }

    // Every page is built for one session (its user, its CSRF token, its flash): no browser or
    // shared cache may keep one, whether or not this response happens to set a cookie (SEC-13).
    res.setHeader('cache-control', 'no-store');
    const m = router.match(method, url.pathname);
    let session: Session<SessionData>;
    try {
      // DBSC registration and refresh: answered by the library before any session is loaded.
      if (await state.sessions.endpoint(req, res)) return;
      session = await state.sessions.load(req);
    } catch (e) {
      return plainError(res, e);
    }
    const ctx = new Ctx(state, req, res, url, m && m !== 'method' ? m.params : {}, session);
    try {
      if (session.isAuthenticated) ctx.user = accounts.byId(session.userId!);
      if (m === null) return await errorPage(ctx, 404, 'Page not found', 'There is nothing at this address.');
      if (m === 'method') return await errorPage(ctx, 405, 'Method not allowed', 'This address does not accept that kind of request.');
      const { route } = m;

      if (isUnsafeMethod(method)) {
        res.setHeader('vary', INTEGRITY_VARY);
        // SEC-24/25: Fetch Metadata, then Origin/Referer, before the body is even read.
        const integrity = verifyRequestIntegrity({ method, headers: req.headers }, { origin: state.origins });
        if (!integrity.ok) return await blocked(ctx, integrity.reason);
        try {
          ctx.form = await readForm(req);
        } catch (e) {
          if (e instanceof BodyTooLarge) return await errorPage(ctx, 413, 'Request too large', 'That form was larger than this app accepts.');
          throw e;
        }
        // SEC-22: synchronizer token from the form field or, for fetch(), a header.
        const header = req.headers['x-csrf-token'];
        const token = typeof header === 'string' ? header : ctx.form.get('_csrf');
        const needToken = route.options.csrf !== 'if-signed-in' || session.userId !== null;
        if (needToken && !verifyCsrfToken(session, token)) return await blocked(ctx, 'token-invalid');
      }

      const gate = route.options.auth ?? 'none';
      if (gate === 'user' || gate === 'admin') {
        try {
          // SEC-17: a half-authenticated session (second factor pending) is not authenticated.
          session.requireAuth();
        } catch (e) {
          if (!(e instanceof UnauthenticatedError)) throw e;
          return await unauthenticated(ctx);
        }
        if (!ctx.user) {
          // The account is gone (deleted elsewhere): end the session rather than serve a ghost.
          await session.destroy();
          return await ctx.redirect('/signin');
        }
        if (gate === 'admin' && ctx.user.role !== 'admin') return await errorPage(ctx, 403, 'Administrators only', 'The security dashboard needs the admin role.');
        if (route.options.detect !== false) await detect(ctx);
      } else if (gate === 'pending' && session.pendingStep !== 'mfa') {
        return await ctx.redirect(session.isAuthenticated ? '/account' : '/signin');
      }
      await route.handler(ctx);
    } catch (e) {
      await handleError(ctx, e, m && m !== 'method' ? m.route.options : {});
    }
  }

  async function blocked(ctx: Ctx, reason: CsrfFailureReason): Promise<void> {
    // The library's CSRF refusal event: counted by reason, and bursts per network reach the detector.
    const s = ctx.session;
    const ip = state.sessions.requestInfo(ctx.req).ip;
    monitor.emit({ type: 'csrf.rejected', at: new Date(clock()).toISOString(), reason, method: ctx.method.slice(0, 16), ...(s.id ? { sid: await manager.sid(s.id) } : {}), ...(ip ? { ip } : {}) });
    if (ctx.wantsJson) return ctx.json(403, { error: 'ERR_CSRF' });
    return errorPage(
      ctx,
      403,
      'Request blocked',
      'This request did not come from a page of this site (or its form had expired), so it was refused to protect your account. Go back, reload the page and try again.',
    );
  }

  async function unauthenticated(ctx: Ctx): Promise<void> {
    if (ctx.method === 'GET' && !ctx.wantsJson) return ctx.redirect(ctx.session.pendingStep ? '/signin/2fa' : '/signin');
    if (ctx.wantsJson) return ctx.json(401, { error: 'ERR_UNAUTHENTICATED' });
    return errorPage(ctx, 401, 'Sign in required', 'Sign in (and finish any second step) to continue.');
  }

  /**
   * SEC-35: the library's detector compares this request's network and browser family with what
   * the session has seen and acts by its policy (log a soft signal; ask for the password again on
   * a stolen-cookie pattern; end the session on a binding violation). The app only remembers that
   * something changed, for the notice on the account page.
   */
  async function detect(ctx: Ctx): Promise<void> {
    const info = state.sessions.requestInfo(ctx.req);
    const anomaly = await monitor.detector.check(ctx.session, { ip: info.ip ?? null, userAgent: info.userAgent ?? null });
    if (anomaly) ctx.session.set('risk', { ip: anomaly.signals.includes('ip_change') ? 'changed' : undefined, ua: anomaly.signals.includes('ua_change') ? 'changed' : undefined });
  }

  async function handleError(ctx: Ctx, e: unknown, options: RouteOptions): Promise<void> {
    if (ctx.res.headersSent) {
      ctx.res.end();
      return;
    }
    try {
      if (e instanceof ReauthRequiredError) {
        // SEC-14: stale authentication for a sensitive operation -> re-enter the password.
        if (ctx.wantsJson) return await ctx.json(401, { error: e.code });
        const next = options.stepUpReturn ?? ctx.url.pathname;
        return await ctx.redirect(`/reauth?next=${encodeURIComponent(next)}`);
      }
      if (e instanceof UnauthenticatedError || e instanceof SessionDestroyedError) return await unauthenticated(ctx);
      if (isSessionwardError(e)) {
        if (ctx.wantsJson) return await ctx.json(e.status, { error: e.code });
        return await errorPage(ctx, e.status, 'Something went wrong', statusText(e.status));
      }
      log(`error on ${ctx.method} ${ctx.url.pathname}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return await errorPage(ctx, 500, 'Something went wrong', 'The error has been logged. Please try again.');
    } catch (again) {
      plainError(ctx.res, again);
    }
  }

  function plainError(res: ServerResponse, e: unknown): void {
    const status = isSessionwardError(e) ? e.status : 500;
    if (!isSessionwardError(e)) log(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    if (res.headersSent) return void res.end();
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    if (status === 429) res.setHeader('retry-after', '60');
    res.end(statusText(status));
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse, name: string): void {
    const f = statics.get(name);
    if (!f) {
      res.statusCode = 404;
      return void res.end('not found');
    }
    res.setHeader('etag', f.etag);
    res.setHeader('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === f.etag) {
      res.statusCode = 304;
      return void res.end();
    }
    res.setHeader('content-type', f.type);
    res.end(f.body);
  }

  async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Closed unless a token is set or it is opened by name (docs/reference-app.md, "Observability").
    if (config.metricsToken || !config.metricsPublic) {
      const got = Buffer.from(req.headers.authorization ?? '');
      const want = Buffer.from(`Bearer ${config.metricsToken ?? ''}`);
      if (!config.metricsToken || got.length !== want.length || !timingSafeEqual(got, want)) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', 'Bearer');
        return void res.end();
      }
    }
    try {
      const body = await monitor.metrics.text();
      res.setHeader('content-type', monitor.metrics.contentType);
      res.setHeader('cache-control', 'no-store');
      res.end(body);
    } catch (e) {
      plainError(res, e);
    }
  }

  return {
    state,
    routes: router.list(),
    handle: (req, res) => {
      if (closing) {
        res.statusCode = 503;
        return void res.end();
      }
      if (req.headers.accept === 'text/event-stream') {
        open.add(res);
        res.on('close', () => open.delete(res));
      }
      void handle(req, res);
    },
    setOrigins(origins) {
      state.origins = origins;
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const r of open) r.end();
      await monitor.close();
      securityDb.close();
      accounts.close();
    },
  };
}

export async function errorPage(ctx: Ctx, status: number, title: string, message: string): Promise<void> {
  if (ctx.wantsJson) return ctx.json(status, { error: title });
  return ctx.page(
    title,
    () => html`<section class="card narrow">
      <h1>${title}</h1>
      <p>${message}</p>
      <p><a class="button secondary" href="/">Go to the start page</a></p>
    </section>`,
    { status },
  );
}

function statusText(status: number): string {
  switch (status) {
    case 409:
      return 'Another request changed this session at the same time. Please try again.';
    case 429:
      return 'Too many requests. Please wait a minute and try again.';
    case 503:
      return 'The session store is unavailable right now. Please try again shortly.';
    default:
      return 'Please try again.';
  }
}
