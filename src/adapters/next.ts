/**
 * Next.js helper (`sessionward/next`) over the Web adapter: wrap App Router route handlers and
 * middleware. Next.js itself is not a dependency; the helper only uses `Request`/`Response`. In
 * middleware (edge runtime) give the manager `crypto: webCrypto` and an edge-capable store.
 *
 * @example
 * // app/api/cart/route.ts
 * const sessions = nextSessions(manager, { csrf: { origin: process.env.APP_ORIGIN! } })
 * export const POST = sessions.route(async (request, session) => {
 *   await session.update((d) => { d.items = [...(d.items ?? []), 'sku-1'] })
 *   return Response.json({ ok: true })
 * })
 */
import type { SessionManager } from '../core/manager.js';
import type { Session } from '../core/session.js';
import { answerEndpoint, commitSession, errorResponse, loadSession, type WebSessionOptions } from './web.js';
import { checkCsrf, compileGuard, emitCsrfEvent, mergeVary, webHeadersFor, type CsrfGuardOptions } from '../csrf/index.js';
import { CsrfError } from '../csrf/errors.js';

export interface NextSessionOptions extends WebSessionOptions {
  /** CSRF checks on unsafe methods (token from the header only: bodies are the handler's). */
  csrf?: CsrfGuardOptions;
}

export type NextHandler<D extends Record<string, unknown>, C> = (request: Request, session: Session<D>, context: C) => Response | Promise<Response>;

export interface NextSessions<D extends Record<string, unknown>> {
  /** Wrap a route handler (`export const GET = sessions.route(...)`). */
  route<C = unknown>(handler: NextHandler<D, C>): (request: Request, context: C) => Promise<Response>;
  /** Wrap `middleware.ts`: return `NextResponse.next()` (or any Response) from the handler. */
  middleware(handler: (request: Request, session: Session<D>) => Response | Promise<Response>): (request: Request) => Promise<Response>;
  load(request: Request): Promise<Session<D>>;
  commit(session: Session<D>, response: Response): Promise<Response>;
}

/**
 * @example
 * export const middleware = nextSessions(manager).middleware(async (req, session) =>
 *   session.isAuthenticated ? NextResponse.next() : NextResponse.redirect(new URL('/login', req.url)))
 */
export function nextSessions<D extends Record<string, unknown> = Record<string, any>>(manager: SessionManager<D>, options: NextSessionOptions = {}): NextSessions<D> {
  const csrf = options.csrf ? compileGuard(options.csrf) : null;
  // With CSRF checks every answer varies on the headers they read (SEC-24), errors included.
  const withVary = (response: Response): Response => {
    if (!csrf) return response;
    const out = new Response(response.body, response);
    out.headers.set('vary', mergeVary(out.headers.get('vary')));
    return out;
  };
  const wrap = <C>(handler: NextHandler<D, C>) => async (request: Request, context: C): Promise<Response> => {
    try {
      const answered = await answerEndpoint(manager, request, options);
      if (answered) return answered;
      const session = await loadSession(manager, request, options);
      if (csrf) {
        const reason = checkCsrf({ method: request.method, headers: webHeadersFor(request.headers, csrf) }, session, csrf);
        if (reason) {
          await emitCsrfEvent(csrf, reason, request.method, { sid: async () => (session.id ? manager.sid(session.id) : undefined) });
          throw new CsrfError();
        }
      }
      return withVary(await commitSession(manager, session, await handler(request, session, context)));
    } catch (err) {
      const r = errorResponse(err);
      if (r) return withVary(r);
      throw err;
    }
  };
  return {
    route: wrap,
    middleware: (handler) => {
      const w = wrap<undefined>((req, s) => handler(req, s));
      return (request) => w(request, undefined);
    },
    load: (request) => loadSession(manager, request, options),
    commit: (session, response) => commitSession(manager, session, response),
  };
}
