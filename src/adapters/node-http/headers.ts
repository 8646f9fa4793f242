/**
 * @internal The session's own headers on a node:http response (Set-Cookie, Cache-Control:
 * no-store, Clear-Site-Data), kept on top of whatever the app sets afterwards (SEC-13). Shared by
 * the node:http adapter (src/adapters/node.ts), the Express adapter and Fastify (through node.ts).
 */
import type { ServerResponse } from 'node:http';

/** The session's own headers on a response, put back whenever the app's would replace them. */
interface Kept {
  /** Set-Cookie lines by cookie name: a later one for the same name replaces an earlier one. */
  cookies: Map<string, string>;
  /** Every other header the commit set (Cache-Control: no-store, Clear-Site-Data). */
  single: Map<string, string>;
}
const KEPT = Symbol('sessionward.keptHeaders');
type WithKept = ServerResponse & { [KEPT]?: Kept };
export type WriteHead = (this: ServerResponse, ...args: any[]) => ServerResponse;

/**
 * The cookie name of a Set-Cookie line, without parsing its attributes: the name is everything
 * before the first `=` (RFC 6265 §5.2), trimmed, as parseSetCookie reads it. A line without a
 * name is its own key, so two such lines never replace each other by accident.
 */
export function setCookieName(line: string): string {
  const eq = line.indexOf('=');
  const semi = line.indexOf(';');
  if (eq <= 0 || (semi !== -1 && semi < eq)) return line;
  return line.slice(0, eq).trim();
}

/** Put the session's headers back on top of whatever the app set since (SEC-13). */
function reassert(res: ServerResponse, kept: Kept): void {
  for (const [name, value] of kept.single) res.setHeader(name, value);
  if (kept.cookies.size === 0) return;
  const prev = res.getHeader('set-cookie');
  if (prev === undefined) {
    // The common case (the app set no cookie of its own): nothing to filter.
    res.setHeader('set-cookie', [...kept.cookies.values()]);
    return;
  }
  const list = Array.isArray(prev) ? prev.map(String) : [String(prev)];
  // The app's cookies stay (as express-session keeps both); for the session's own cookie names
  // the session's line stands, or an app could sign a user out (or back in) by accident.
  res.setHeader('set-cookie', [...list.filter((c) => !kept.cookies.has(setCookieName(c))), ...kept.cookies.values()]);
}

/**
 * Set the commit's headers on `res` and remember them, so that `writeHeadKeeping` can put them
 * back. Without the writeHead wrapper that `applyHeaders` installs (a held response replays
 * writeHead through `writeHeadKeeping` itself).
 */
export function setSessionHeaders(res: ServerResponse, headers: ReadonlyArray<readonly [string, string]>): void {
  if (headers.length === 0) return;
  const r = res as WithKept;
  const kept = (r[KEPT] ??= { cookies: new Map(), single: new Map() });
  for (const [name, value] of headers) {
    if (name === 'set-cookie') kept.cookies.set(setCookieName(value), value);
    else kept.single.set(name, value);
  }
  reassert(res, kept);
}

/** Forget the session's headers (an error response replaces everything). */
export function forgetSessionHeaders(res: ServerResponse): void {
  if ((res as WithKept)[KEPT] !== undefined) (res as WithKept)[KEPT] = undefined;
}

/**
 * `res.writeHead(status, [message], headers)` as Node applies it (an object replaces, a flat array
 * appends), except that the session's headers survive: Node's own writeHead would let
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
