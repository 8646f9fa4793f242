/**
 * Express adapter: a drop-in for express-session (`sessionward/express`). `req.session` behaves
 * like express-session's (plain data properties, `regenerate`, `destroy`, `reload`, `save`,
 * `touch`, `id`, `cookie`); every decision is the core's (SessionManager). The adapter only
 * translates: data properties are synced into the core session, and the core's async commit runs
 * before the first byte of the response goes out.
 *
 * Differences from express-session are listed in docs/migrating-from-express-session.md.
 *
 * @example
 * import express from 'express'
 * import { session } from 'sessionward/express'
 * const app = express()
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new RedisStore({ client }) }))
 * app.get('/', (req, res) => {
 *   req.session.views = (req.session.views ?? 0) + 1
 *   res.json({ views: req.session.views })
 * })
 */
import type { IncomingMessage } from 'node:http';
import type { RequestInfo } from '../../core/manager.js';
import type { Session } from '../../core/session.js';
import { ConfigError, isSessionwardError } from '../../errors.js';
import { cookieValue } from '../../cookie/index.js';
import { errorReply, sendReply } from '../../lib/error-reply.js';
import { CsrfError } from '../../csrf/errors.js';
import { checkCsrf, compileGuard, emitCsrfEvent, getCsrfToken, mergeVary, tokenSources, type CsrfGuardOptions } from '../../csrf/index.js';
import { answerEndpoint } from '../node.js';
import { holdResponse, replaceWithFailure, type HoldHooks } from '../node-http/hold.js';
import { finalize, idle } from './bridge.js';
import { createLegacy } from './legacy.js';
import { loginMigrated, migrateOnLoad } from './migrate.js';
import { flagsOf, managerFromOptions, userIdPicker, type ExpressSessionOptions } from './options.js';
import { hydrate, type Next, type Req, type Res, type State } from './state.js';
import { attach, stateOf } from './slots.js';
import { View } from './view.js';

export { managerFromOptions };
export type { ExpressCookieOptions, ExpressSessionOptions } from './options.js';
export type { ExpressSession, ExpressSessionMethods } from './view.js';
export type { LegacyOptions, LegacyStore, LegacyRedis } from './legacy.js';
// Type-only: loads the Express Request augmentation (req.session, req.sessionID) into the program.
export type { SessionData } from './request.js';
export { unsignLegacy } from './legacy.js';

/** RFC 6265 cookie-octets: a value from cookie-parser can never smuggle another cookie in. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,4096}$/;

/**
 * The Cookie header the session is read from. Like express-session, when the header itself has no
 * session cookie, the one cookie-parser left in `req.signedCookies`, then `req.cookies`, is used
 * (some setups hand cookies over only that way). It still has to pass our own MAC (SEC-3):
 * cookie-parser's signature is made with its own secret and proves nothing to us.
 */
function cookieSource(req: Req, name: string): string | undefined {
  const header = req.headers.cookie;
  if (cookieValue(header, name) !== undefined) return header;
  for (const jar of [req.signedCookies, req.cookies]) {
    if (typeof jar !== 'object' || jar === null || !Object.prototype.hasOwnProperty.call(jar, name)) continue;
    // Only strings: cookie-parser turns `j:` values into objects.
    const v = (jar as Record<string, unknown>)[name];
    if (typeof v === 'string' && COOKIE_VALUE.test(v)) return typeof header === 'string' && header ? `${header}; ${name}=${v}` : `${name}=${v}`;
  }
  return header;
}

function clientIp(this: Req): string | undefined {
  return this.ip ?? this.socket?.remoteAddress;
}

/**
 * express-session-compatible middleware.
 *
 * @example
 * app.use(session({ secret: [process.env.SESSION_SECRET!], store, cookie: { maxAge: 8 * 3600_000 } }))
 * app.post('/login', passport.authenticate('local'), (req, res) => res.redirect('/'))
 */
export function session<D extends Record<string, unknown> = Record<string, any>>(options: ExpressSessionOptions<D> = {}): (req: any, res: any, next: Next) => void {
  const manager = managerFromOptions(options);
  const legacy = options.legacy ? createLegacy(options.legacy, { store: manager.store, clock: manager.options.clock }) : null;
  const unsetDestroy = options.unset === 'destroy';
  const userIdOf = userIdPicker(options);
  const onError = options.onError ?? (() => undefined);
  const flags = flagsOf(options);
  const hooks: HoldHooks<State<D>> = { idle, commit: (st) => finalize(st, st.req), onError: (st, err) => onError(err, st.req) };

  const start = async (req: Req, res: Res, info: RequestInfo): Promise<boolean> => {
    if (manager.options.guard && (await answerEndpoint(manager, req, res, info.ip as () => string | undefined))) return false;
    const core = await manager.load(info);
    const st: State<D> = {
      manager, core, view: null, info, regenerated: false, lastUid: null, retired: [],
      legacyId: null, legacyClear: false, legacyUntil: undefined, legacyClaimed: false, legacy, userIdOf,
      res, req, unsetDestroy, chain: undefined, expireNow: false, flags, slots: null,
    };
    if (legacy && core.isNew) await migrateOnLoad(st, legacy);
    const view = new View(st);
    st.view = view;
    hydrate(view, st.core.data);
    // A migrated session has no sessionward user yet: leaving lastUid null makes commit log it in.
    if (st.legacyId === null) st.lastUid = userIdOf(view as Record<string, any>);
    else await loginMigrated(st);
    attach(req, st, view, st.core.id ?? undefined);
    holdResponse(res, hooks, st);
    return true;
  };

  return function sessionward(req: Req, res: Res, next: Next): void {
    if (req.session) return next();
    const ua = req.headers['user-agent'];
    // The IP is read only when needed: Express's req.ip runs proxy-addr on every access.
    const info: RequestInfo = { cookie: cookieSource(req, manager.cookieName), userAgent: typeof ua === 'string' ? ua : undefined, ip: clientIp.bind(req) };
    start(req, res, info).then(
      (go) => go && next(),
      (err) => {
        onError(err, req);
        replaceWithFailure(res, err);
      },
    );
  };
}

/** The core Session behind `req.session` (userId, listSessions, requireFreshAuth, ...). */
export function coreSession<D extends Record<string, unknown> = Record<string, any>>(req: IncomingMessage): Session<D> | null {
  const st = stateOf<D>(req);
  return st ? st.core : null;
}

/**
 * Error middleware: sessionward's typed errors (e.g. UnauthenticatedError from `requireAuth`)
 * become their status and stable code; anything else goes to the next handler.
 *
 * @example
 * app.use(sessionErrors())
 */
export function sessionErrors(): (err: unknown, req: any, res: any, next: Next) => void {
  return (err, _req, res, next) => {
    if (!isSessionwardError(err) || res.headersSent) return next(err);
    replaceWithFailure(res, err);
  };
}

/**
 * CSRF middleware (SEC-22..26): Fetch Metadata / Origin checks on unsafe methods, optionally the
 * synchronizer token (`x-csrf-token` header or `_csrf` body field), `Vary` on every response, 403
 * and an event on failure. Adds `req.csrfToken()`. Mount it after `session()` (and after a body
 * parser when forms carry the token).
 *
 * @example
 * app.use(session({ secret }))
 * app.use(express.urlencoded({ extended: false }))
 * app.use(csrfProtection({ origin: 'https://app.example.com', token: true, onEvent: log }))
 */
export function csrfProtection(options: CsrfGuardOptions): (req: any, res: any, next: Next) => void {
  const o = compileGuard(options);
  const src = tokenSources(o);
  return (req: Req, res: Res, next: Next) => {
    res.setHeader('vary', mergeVary(res.getHeader('vary')));
    const st = stateOf(req);
    req.csrfToken = () => {
      if (!st) throw new ConfigError('csrfProtection needs the sessionward session() middleware before it');
      return getCsrfToken(st.core);
    };
    const body = req.body && typeof req.body === 'object' && src ? req.body[src.field] : undefined;
    const reason = checkCsrf(req as any, st?.core ?? null, o, body);
    if (!reason) return next();
    void emitCsrfEvent(o, reason, req.method ?? '', {
      ip: req.ip ?? req.socket?.remoteAddress,
      sid: async () => (st?.core.id ? st.manager.sid(st.core.id) : undefined),
    });
    sendReply(res, errorReply(new CsrfError())!);
  };
}

