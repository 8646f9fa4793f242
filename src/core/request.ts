/**
 * What an adapter hands the core about a request, and what the core hands back for the response.
 * Strings only: the core sees no framework objects.
 */
import { clip } from './storable.js';

/** What an adapter knows about the incoming request. Strings only: the core sees no framework objects. */
export interface RequestInfo {
  /** The raw `Cookie` header. */
  cookie?: string | null;
  userAgent?: string | null;
  /** The client IP, or a function that reads it: it is only read when needed (creation, events). */
  ip?: string | null | (() => string | null | undefined);
}

export interface LoadOptions {
  /** @internal Skip the guard: only the guard's own refresh endpoint loads this way. */
  unguarded?: boolean;
}

/** How an adapter asks `commit` for what its framework's options mean. */
export interface CommitOptions {
  /** Store the session even if it is new and holds no data (express-session's `saveUninitialized`). */
  saveEmpty?: boolean;
  /** Send the cookie of an existing session again although nothing changed (express-session's `rolling`). */
  reissueCookie?: boolean;
}

/** What an adapter must apply to the response: header name/value pairs (Set-Cookie may repeat). */
export interface CommitResult {
  headers: Array<[string, string]>;
}

/** @internal The request info with its IP read (and bounded: a client picks what it sends). */
export function resolveIp<T extends { ip?: RequestInfo['ip'] }>(info: T): Omit<T, 'ip'> & { ip?: string } {
  return { ...info, ip: clip(typeof info.ip === 'function' ? info.ip() : info.ip) };
}
