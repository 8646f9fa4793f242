/**
 * CSRF protection (SEC-22..26): request-integrity checks (Fetch Metadata, Origin/Referer), the
 * synchronizer token pattern, signed double-submit cookies for stateless setups, and one-time
 * nonces against replay. Framework middlewares (`sessionward/express`, `/fastify`, `/hono`,
 * `/next`) are thin wrappers over these functions.
 *
 * @example
 * import { verifyRequestIntegrity, getCsrfToken, verifyCsrfToken } from 'sessionward/csrf'
 * const policy = { origin: 'https://app.example.com' }
 * if (!verifyRequestIntegrity(req, policy).ok) return forbidden()
 * if (req.method === 'POST' && !verifyCsrfToken(session, body.csrf)) return forbidden()
 */
import type { Session } from '../core/session.js';
import { verifyRequestIntegrity, compileOriginPolicy, type OriginPolicy, type IntegrityReason, type IntegrityRequest } from './origin.js';
import { verifyCsrfToken } from './token.js';
import { headerValue } from './util.js';
import { CsrfError } from './errors.js';
import { errorReply, replyResponse, sendReply } from '../lib/error-reply.js';

export { verifyRequestIntegrity, compileOriginPolicy, isUnsafeMethod, INTEGRITY_VARY } from './origin.js';
export type { OriginPolicy, IntegrityResult, IntegrityReason, IntegrityRequest } from './origin.js';
export { getCsrfToken, verifyCsrfToken, rotateCsrfToken, CSRF_KEY, CSRF_TOKEN_LENGTH } from './token.js';
export { doubleSubmit } from './double-submit.js';
export type { DoubleSubmit, DoubleSubmitOptions } from './double-submit.js';
export { issueNonce, consumeNonce, NONCE_KEY } from './nonce.js';
export type { NonceOptions } from './nonce.js';
export { CsrfError, ReplayError } from './errors.js';

export type CsrfFailureReason = IntegrityReason | 'token-invalid';

/** Emitted on every refusal (SEC-22, SEC-40). Carries no token, only why and a keyed session hash. */
export interface CsrfEvent {
  type: 'csrf.rejected';
  /** ISO-8601 UTC. */
  at: string;
  reason: CsrfFailureReason;
  method: string;
  /** Keyed hash of the session id (`manager.sid`), when a session was known. */
  sid?: string;
  ip?: string;
}

/** Options shared by every framework's CSRF middleware. */
export interface CsrfGuardOptions extends OriginPolicy {
  /**
   * Also require the synchronizer token (SEC-22) on unsafe methods, read from this request header
   * (default `x-csrf-token`) or, for HTML forms, the body field the framework has parsed
   * (default `_csrf`). Default false: Fetch Metadata + Origin checks only.
   */
  token?: boolean | { header?: string; field?: string };
  /** Event sink for refusals. */
  onEvent?: (event: CsrfEvent) => void;
}

/** @internal Resolved token options of a guard. */
export function tokenSources(o: CsrfGuardOptions): { header: string; field: string } | null {
  if (!o.token) return null;
  const t = o.token === true ? {} : o.token;
  return { header: (t.header ?? 'x-csrf-token').toLowerCase(), field: t.field ?? '_csrf' };
}

/**
 * Framework-free decision used by every middleware: integrity first, then (optionally) the
 * synchronizer token of `session`. Returns null when the request may proceed.
 *
 * @example
 * const reason = checkCsrf(req, session, guard, body?._csrf)
 * if (reason) return forbidden()
 */
export function checkCsrf(
  req: IntegrityRequest,
  session: Session<any> | null,
  options: CsrfGuardOptions,
  bodyToken?: unknown,
): CsrfFailureReason | null {
  const r = verifyRequestIntegrity(req, options);
  if (!r.ok) return r.reason;
  const src = tokenSources(options);
  if (src && !['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(String(req.method).toUpperCase())) {
    const fromHeader = headerValue(req.headers[src.header]);
    const token = fromHeader ?? (typeof bodyToken === 'string' ? bodyToken : undefined);
    if (!session || !verifyCsrfToken(session, token)) return 'token-invalid';
  }
  return null;
}

/** @internal Build and deliver a refusal event; a failing sink never breaks the request. */
export async function emitCsrfEvent(
  options: CsrfGuardOptions,
  reason: CsrfFailureReason,
  method: string,
  extra: { sid?: () => Promise<string | undefined>; ip?: string | undefined } = {},
): Promise<void> {
  if (!options.onEvent) return;
  try {
    const e: CsrfEvent = { type: 'csrf.rejected', at: new Date().toISOString(), reason, method: String(method).slice(0, 16) };
    const sid = await extra.sid?.();
    if (sid) e.sid = sid;
    if (extra.ip) e.ip = extra.ip.slice(0, 64);
    options.onEvent(e);
  } catch {
    // A failing event sink must never break a request.
  }
}

/** @internal Validate guard options at construction time. */
export function compileGuard(options: CsrfGuardOptions): CsrfGuardOptions {
  compileOriginPolicy(options);
  return options;
}

/** @internal Append `Sec-Fetch-Site, Origin` to an existing Vary value without duplicates. */
export function mergeVary(existing: string | number | string[] | undefined | null): string {
  const cur = existing === undefined || existing === null ? '' : Array.isArray(existing) ? existing.join(', ') : String(existing);
  if (cur.trim() === '*') return '*';
  const parts = cur.split(',').map((s) => s.trim()).filter(Boolean);
  const lower = new Set(parts.map((p) => p.toLowerCase()));
  for (const p of ['Sec-Fetch-Site', 'Origin']) if (!lower.has(p.toLowerCase())) parts.push(p);
  return parts.join(', ');
}

export type { Session };

/** Minimal response surface of node's `ServerResponse` (no runtime dependency on node:http). */
interface NodeLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string | string[]): unknown;
  getHeader(name: string): string | number | string[] | undefined;
  end(chunk?: string): unknown;
}

/**
 * Guard for plain `node:http` handlers: sets `Vary`, and on refusal answers 403
 * `{"error":"ERR_CSRF"}`, emits the event and resolves false. `sid` is the manager's keyed hash.
 *
 * @example
 * const session = await sessions.load(req)
 * if (!(await guardNodeRequest(req, res, session, guard, { sid: (id) => manager.sid(id) }))) return
 */
export async function guardNodeRequest(
  req: { method?: string; headers: IntegrityRequest['headers']; socket?: { remoteAddress?: string } },
  res: NodeLikeResponse,
  session: Session<any> | null,
  options: CsrfGuardOptions,
  extra: { sid?: (id: string) => Promise<string>; bodyToken?: unknown } = {},
): Promise<boolean> {
  res.setHeader('vary', mergeVary(res.getHeader('vary')));
  const method = req.method ?? '';
  const reason = checkCsrf({ method, headers: req.headers }, session, options, extra.bodyToken);
  if (!reason) return true;
  await emitCsrfEvent(options, reason, method, {
    ip: req.socket?.remoteAddress,
    sid: async () => (session?.id && extra.sid ? extra.sid(session.id) : undefined),
  });
  sendReply(res, errorReply(new CsrfError())!);
  return false;
}

/** Headers of a Web `Request` as the lower-case record `verifyRequestIntegrity` reads. */
export function webHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const name of ['origin', 'referer', 'sec-fetch-site', 'content-type', 'content-length', 'transfer-encoding']) {
    const v = h.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}

/** @internal Add the guard's custom token header to a record built by `webHeaders`. */
export function webHeadersFor(h: Headers, options: CsrfGuardOptions): Record<string, string> {
  const out = webHeaders(h);
  const src = tokenSources(options);
  if (src) {
    const v = h.get(src.header);
    if (v !== null) out[src.header] = v;
  }
  return out;
}

/** A 403 Response for a refused request (status and stable code only). */
export function csrfForbiddenResponse(): Response {
  const r = replyResponse(errorReply(new CsrfError())!);
  r.headers.set('vary', mergeVary(null));
  return r;
}
