/**
 * Hono middleware (`sessionward/hono`): loads the session into `c.get('session')`, commits it
 * after the handler and adds its headers. Works wherever Hono runs; on edge runtimes give the
 * manager `crypto: webCrypto`.
 *
 * @example
 * import { Hono } from 'hono'
 * import { sessionMiddleware, type SessionVariables } from 'sessionward/hono'
 * const app = new Hono<{ Variables: SessionVariables }>()
 * app.use(sessionMiddleware(manager, { csrf: { origin: 'https://app.example.com' } }))
 * app.get('/', (c) => c.json({ user: c.get('session').userId }))
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { SessionManager } from '../core/manager.js';
import type { Session } from '../core/session.js';
import { answerEndpoint, loadSession } from './web.js';
import { errorReply, replyResponse, type ErrorReply } from '../lib/error-reply.js';
import { CsrfError } from '../csrf/errors.js';
import { checkCsrf, compileGuard, emitCsrfEvent, mergeVary, tokenSources, webHeadersFor, type CsrfGuardOptions } from '../csrf/index.js';

export interface HonoSessionOptions {
  csrf?: CsrfGuardOptions;
  /** Client IP (runtime specific, e.g. `getConnInfo(c)` from hono/conninfo). */
  getIp?: (request: Request) => string | undefined;
}

export type SessionVariables<D extends Record<string, unknown> = Record<string, any>> = { session: Session<D> };

const FORM = /^(application\/x-www-form-urlencoded|multipart\/form-data)/i;

/** A typed error's reply through the context, so headers set on it earlier (Vary) stay. */
function reply(c: Context, r: ErrorReply): Response {
  for (const [name, value] of r.headers) c.header(name, value, { append: name === 'set-cookie' });
  c.status(r.status as Parameters<Context['status']>[0]);
  return c.body(r.body);
}

/**
 * @example
 * app.use('/app/*', sessionMiddleware(manager))
 */
export function sessionMiddleware<D extends Record<string, unknown> = Record<string, any>>(
  manager: SessionManager<D>,
  options: HonoSessionOptions = {},
): MiddlewareHandler<{ Variables: SessionVariables<D> }> {
  const csrf = options.csrf ? compileGuard(options.csrf) : null;
  const src = csrf ? tokenSources(csrf) : null;
  return async (c, next) => {
    let session: Session<D>;
    try {
      const answered = await answerEndpoint(manager, c.req.raw, { getIp: options.getIp });
      if (answered) return answered;
      session = await loadSession(manager, c.req.raw, { getIp: options.getIp });
      c.set('session', session);
      if (csrf) {
        c.header('vary', mergeVary(c.res?.headers.get('vary')));
        let bodyToken: unknown;
        if (src && FORM.test(c.req.header('content-type') ?? '') && !c.req.header(src.header)) {
          // Hono caches the parsed body, so the handler can still read it.
          const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
          bodyToken = (form as Record<string, unknown>)[src.field];
        }
        const reason = checkCsrf({ method: c.req.method, headers: webHeadersFor(c.req.raw.headers, csrf) }, session, csrf, bodyToken);
        if (reason) {
          await emitCsrfEvent(csrf, reason, c.req.method, { sid: async () => (session.id ? manager.sid(session.id) : undefined) });
          throw new CsrfError();
        }
      }
    } catch (err) {
      const r = errorReply(err);
      if (r) return reply(c, r);
      throw err;
    }
    await next();
    try {
      const { headers } = await manager.commit(session);
      for (const [name, value] of headers) c.header(name, value, { append: name === 'set-cookie' });
    } catch (err) {
      const r = errorReply(err);
      if (!r) throw err;
      // A fresh response: nothing the handler prepared goes out beside the error.
      c.res = undefined as unknown as Response;
      c.res = replyResponse(r);
    }
  };
}
