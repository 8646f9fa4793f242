/**
 * @internal The one path from a typed error to what the client sees: the error's status, its
 * stable code as `{"error": code}`, `no-store`, and the headers the error must carry (a cookie to
 * clear, Retry-After) — never why it failed. Each platform only writes this reply its own way.
 */
import { isSessionwardError } from '../errors.js';

export interface ErrorReply {
  status: number;
  /** In order; `set-cookie` may repeat and is appended, every other name is set. */
  headers: ReadonlyArray<readonly [string, string]>;
  body: string;
}

/** The reply for a sessionward error; null for anything else (the app's error handling decides). */
export function errorReply(err: unknown): ErrorReply | null {
  if (!isSessionwardError(err)) return null;
  return {
    status: err.status,
    headers: [['content-type', 'application/json'], ['cache-control', 'no-store'], ...err.headers],
    body: JSON.stringify({ error: err.code }),
  };
}

const INTERNAL_BODY = JSON.stringify({ error: 'ERR_INTERNAL' });

/**
 * The reply when the adapter itself must answer a failure (the session could not be loaded or
 * committed): a sessionward error's own reply, anything else a bare 500 `ERR_INTERNAL`.
 */
export function failureReply(err: unknown): ErrorReply {
  return errorReply(err) ?? { status: 500, headers: [['content-type', 'application/json'], ['cache-control', 'no-store']], body: INTERNAL_BODY };
}
/** The reply as a Web `Response`. */
export function replyResponse(r: ErrorReply): Response {
  const headers = new Headers();
  for (const [name, value] of r.headers) {
    if (name === 'set-cookie') headers.append(name, value);
    else headers.set(name, value);
  }
  return new Response(r.body, { status: r.status, headers });
}

/** The surface of node's `ServerResponse` a reply needs (no runtime dependency on node:http). */
export interface NodeLikeResponse {
  statusCode: number;
  /** Absent: not sent yet. */
  readonly headersSent?: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  getHeader(name: string): string | number | string[] | undefined;
  end(chunk?: string): unknown;
}

/**
 * Write the reply on a node:http response. Headers already sent: only the body can still go out
 * (what a failure after the head leaves possible); the status and headers stay as they were.
 */
export function sendReply(res: NodeLikeResponse, r: ErrorReply, end: (this: any, body: string) => unknown = res.end): void {
  if (!res.headersSent) {
    res.statusCode = r.status;
    for (const [name, value] of r.headers) {
      if (name !== 'set-cookie') {
        res.setHeader(name, value);
        continue;
      }
      const prev = res.getHeader(name);
      res.setHeader(name, prev === undefined ? [value] : [...(Array.isArray(prev) ? prev : [String(prev)]), value]);
    }
  }
  // `end`: the response's own end, unless an adapter holding the response must bypass its hold.
  end.call(res, r.body);
}
