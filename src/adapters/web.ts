/**
 * Web `Request`/`Response` adapter (Deno, Bun, Cloudflare Workers, Next.js route handlers).
 *
 * @example
 * export const GET = withSession(manager, async (request, session) => {
 *   session.set('seen', true)
 *   return Response.json({ user: session.userId })
 * })
 */
import type { SessionManager, RequestInfo } from '../core/manager.js';
import type { Session } from '../core/session.js';
import { errorReply, replyResponse } from '../lib/error-reply.js';

export interface WebSessionOptions {
  /** Client IP: runtimes expose it differently (e.g. a platform header); default none. */
  getIp?: (request: Request) => string | undefined;
}

export function webRequestInfo(request: Request, options: WebSessionOptions = {}): RequestInfo {
  return {
    cookie: request.headers.get('cookie'),
    userAgent: request.headers.get('user-agent'),
    ip: options.getIp?.(request),
  };
}

/**
 * Answer an endpoint of the manager's guard (DBSC registration and refresh); null when the
 * request is not for one. Call it before `loadSession`.
 */
export async function answerEndpoint(manager: SessionManager<any>, request: Request, options: WebSessionOptions = {}): Promise<Response | null> {
  if (!manager.options.guard || request.method !== 'POST') return null;
  const r = await manager.endpoint({
    method: request.method,
    path: new URL(request.url).pathname,
    header: (name) => request.headers.get(name),
    userAgent: request.headers.get('user-agent'),
    ip: options.getIp?.(request) ?? null,
  });
  if (!r) return null;
  const headers = new Headers();
  for (const [name, value] of r.headers) headers.append(name, value);
  return new Response(r.body || null, { status: r.status, headers });
}

/** Load the session of a Web request. */
export function loadSession<D extends Record<string, unknown>>(manager: SessionManager<D>, request: Request, options?: WebSessionOptions): Promise<Session<D>> {
  return manager.load(webRequestInfo(request, options));
}

/**
 * Persist the session and return a Response carrying its headers. Responses from `fetch` or
 * `Response.redirect` have immutable headers, so a copy is returned.
 */
export async function commitSession<D extends Record<string, unknown>>(manager: SessionManager<D>, session: Session<D>, response: Response): Promise<Response> {
  const { headers } = await manager.commit(session);
  if (headers.length === 0) return response;
  const out = new Response(response.body, response);
  for (const [name, value] of headers) {
    if (name === 'set-cookie') out.headers.append(name, value);
    else out.headers.set(name, value);
  }
  return out;
}

/** A typed error as a Response: status and stable code only (nothing about why). */
export function errorResponse(err: unknown): Response | null {
  const r = errorReply(err);
  return r ? replyResponse(r) : null;
}

/** Wrap a handler: load before, commit after, typed errors mapped to their status (503 for a down store). */
export function withSession<D extends Record<string, unknown>>(
  manager: SessionManager<D>,
  handler: (request: Request, session: Session<D>) => Promise<Response> | Response,
  options?: WebSessionOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    try {
      const answered = await answerEndpoint(manager, request, options);
      if (answered) return answered;
      const session = await loadSession(manager, request, options);
      const response = await handler(request, session);
      return await commitSession(manager, session, response);
    } catch (err) {
      const r = errorResponse(err);
      if (r) return r;
      throw err;
    }
  };
}
