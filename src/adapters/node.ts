/**
 * Plain `node:http` adapter: translates `(req, res)` to the core's strings and back. No logic here.
 *
 * @example
 * const sessions = nodeSessions(manager)
 * http.createServer(async (req, res) => {
 *   const session = await sessions.load(req)
 *   session.set('theme', 'dark')
 *   await sessions.commit(session, res)   // before writeHead / end
 *   res.end('ok')
 * })
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionManager, RequestInfo } from '../core/manager.js';
import type { Session } from '../core/session.js';
import { errorReply, sendReply } from '../lib/error-reply.js';
import { applyHeaders } from './node-http/headers.js';

export { applyHeaders };

export { clientIpResolver, parseTrustProxy } from './client-ip.js';
export type { TrustProxy } from './client-ip.js';

export interface NodeSessionsOptions {
  /**
   * Client IP for device metadata and SEC-42 throttling. Default: the socket address. Behind
   * reverse proxies use `clientIpResolver(...)`, which believes `X-Forwarded-For` only as far as
   * the proxies you name.
   */
  getIp?: (req: IncomingMessage) => string | undefined;
}

export interface NodeSessions<D extends Record<string, unknown>> {
  load(req: IncomingMessage): Promise<Session<D>>;
  /** Persist and set `Set-Cookie` / `Cache-Control` on `res`. Call before the headers are sent. */
  commit(session: Session<D>, res: ServerResponse): Promise<void>;
  /** Strings the core needs from a request (exposed for other Node adapters). */
  requestInfo(req: IncomingMessage): RequestInfo & { ip?: string };
  /**
   * Answer an endpoint of the manager's guard (DBSC registration and refresh) and return true;
   * false when `req` is not for one. Call it before `load`.
   */
  endpoint(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/** Translate a Node request for the guard's endpoints and write its answer; false when it is not one. */
export async function answerEndpoint(manager: SessionManager<any>, req: IncomingMessage, res: ServerResponse, ip?: () => string | undefined): Promise<boolean> {
  if (!manager.options.guard || req.method !== 'POST') return false;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const ua = req.headers['user-agent'];
  const r = await manager.endpoint({
    method: req.method,
    path: q === -1 ? url : url.slice(0, q),
    header: (name) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : null;
    },
    userAgent: typeof ua === 'string' ? ua : null,
    ip: (ip ? ip() : req.socket?.remoteAddress) ?? null,
  });
  if (!r) return false;
  res.statusCode = r.status;
  applyHeaders(res, r.headers);
  res.end(r.body);
  return true;
}

export function nodeSessions<D extends Record<string, unknown>>(manager: SessionManager<D>, options: NodeSessionsOptions = {}): NodeSessions<D> {
  const getIp = options.getIp ?? ((req: IncomingMessage) => req.socket?.remoteAddress);
  const requestInfo = (req: IncomingMessage): RequestInfo & { ip?: string } => {
    const ua = req.headers['user-agent'];
    return { cookie: req.headers.cookie, userAgent: typeof ua === 'string' ? ua : undefined, ip: getIp(req) };
  };
  return {
    requestInfo,
    endpoint: (req, res) => answerEndpoint(manager, req, res, () => getIp(req)),
    load(req) {
      const ua = req.headers['user-agent'];
      // The IP is read lazily: the socket's peer address costs a syscall most requests never need.
      return manager.load({ cookie: req.headers.cookie, userAgent: typeof ua === 'string' ? ua : undefined, ip: getIp.bind(undefined, req) });
    },
    async commit(session, res) {
      const { headers } = await manager.commit(session);
      applyHeaders(res, headers);
    },
  };
}

/**
 * Write a typed sessionward error as a response without leaking detail: its suggested status and
 * stable code only. Returns false for errors that are not ours (let the app's handler deal).
 */
export function sendError(res: ServerResponse, err: unknown): boolean {
  const reply = errorReply(err);
  if (!reply) return false;
  sendReply(res, reply);
  return true;
}
