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
import { isSessionwardError } from '../errors.js';
import { parseSetCookie } from '../cookie/index.js';

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

/** The session's own headers on a response, put back whenever the app's would replace them. */
interface Kept {
  /** Set-Cookie lines by cookie name: a later one for the same name replaces an earlier one. */
  cookies: Map<string, string>;
  /** Every other header the commit set (Cache-Control: no-store, Clear-Site-Data). */
  single: Map<string, string>;
}
const KEPT = Symbol('sessionward.keptHeaders');
type WithKept = ServerResponse & { [KEPT]?: Kept };
type WriteHead = (this: ServerResponse, ...args: any[]) => ServerResponse;

function cookieName(line: string): string {
  return parseSetCookie(line)?.name ?? line;
}

/** Put the session's headers back on top of whatever the app set since (SEC-13). */
function reassert(res: ServerResponse, kept: Kept): void {
  for (const [name, value] of kept.single) res.setHeader(name, value);
  if (kept.cookies.size === 0) return;
  const prev = res.getHeader('set-cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev.map(String) : [String(prev)];
  // The app's cookies stay (as express-session keeps both); for the session's own cookie names
  // the session's line stands, or an app could sign a user out (or back in) by accident.
  res.setHeader('set-cookie', [...list.filter((c) => !kept.cookies.has(cookieName(c))), ...kept.cookies.values()]);
}

/**
 * @internal Set the commit's headers on `res` and remember them, so that `writeHeadKeeping` can put
 * them back. Without the wrapper that `applyHeaders` installs (Express holds writeHead itself).
 */
export function setSessionHeaders(res: ServerResponse, headers: ReadonlyArray<readonly [string, string]>): void {
  if (headers.length === 0) return;
  const r = res as WithKept;
  const kept = (r[KEPT] ??= { cookies: new Map(), single: new Map() });
  for (const [name, value] of headers) {
    if (name === 'set-cookie') kept.cookies.set(cookieName(value), value);
    else kept.single.set(name, value);
  }
  reassert(res, kept);
}

/** @internal Forget the session's headers (an error response replaces everything). */
export function forgetSessionHeaders(res: ServerResponse): void {
  delete (res as WithKept)[KEPT];
}

/**
 * @internal `res.writeHead(status, [message], headers)` as Node applies it (an object replaces,
 * a flat array appends), except that the session's headers survive: Node's own writeHead would let
 * `{ 'Set-Cookie': ... }` drop a rotated login cookie and `{ 'Cache-Control': 'public' }` make a
 * response carrying a session cookie cacheable by a shared cache (SEC-13). Also the path of every
 * implicit head (`end()`/`write()` call `this.writeHead`), so a `setHeader` after the commit is
 * undone as well.
 */
export function writeHeadKeeping(res: ServerResponse, real: WriteHead, args: unknown[]): ServerResponse {
  const kept = (res as WithKept)[KEPT];
  if (!kept) return real.apply(res, args);
  const at = typeof args[1] === 'string' ? 2 : 1;
  const given = args[at] as unknown;
  // An odd-length array is Node's to refuse.
  if (given && typeof given === 'object' && !(Array.isArray(given) && given.length % 2 !== 0)) {
    if (Array.isArray(given)) {
      for (let i = 0; i < given.length; i += 2) res.removeHeader(String(given[i]));
      for (let i = 0; i < given.length; i += 2) if (given[i]) res.appendHeader(String(given[i]), given[i + 1] as string);
    } else {
      for (const k of Object.keys(given)) if (k) res.setHeader(k, (given as Record<string, string>)[k]!);
    }
    args = args.slice(0, at);
  }
  reassert(res, kept);
  return real.apply(res, args);
}

/**
 * Set the commit's `Set-Cookie` / `Cache-Control` headers on `res`. They survive the app's own
 * headers: a later `res.writeHead(status, headers)` or `setHeader` appends its Set-Cookie values
 * and cannot make the response cacheable (SEC-13).
 */
export function applyHeaders(res: ServerResponse, headers: Array<[string, string]>): void {
  const first = (res as WithKept)[KEPT] === undefined;
  setSessionHeaders(res, headers);
  if (!first || (res as WithKept)[KEPT] === undefined) return;
  const real = res.writeHead as WriteHead;
  res.writeHead = function writeHead(this: ServerResponse, ...args: unknown[]) {
    return writeHeadKeeping(res, real, args);
  } as typeof res.writeHead;
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
  if (!isSessionwardError(err)) return false;
  if (!res.headersSent) {
    res.statusCode = err.status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    for (const [name, value] of err.headers) {
      if (name === 'set-cookie') res.appendHeader(name, value);
      else res.setHeader(name, value);
    }
  }
  res.end(JSON.stringify({ error: err.code }));
  return true;
}
