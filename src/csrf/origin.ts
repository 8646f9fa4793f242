/**
 * Request-integrity checks against cross-site request forgery (SEC-24, SEC-25, SEC-26):
 * Fetch Metadata first, then an exact Origin (or Referer) match, for unsafe methods only.
 *
 * - https://w3c.github.io/webappsec-fetch-metadata/ (Sec-Fetch-Site)
 * - OWASP CSRF Prevention Cheat Sheet, "Verifying Origin With Standard Headers"
 * - Same algorithm family as Go 1.25's net/http CrossOriginProtection.
 */
import { ConfigError } from '../errors.js';
import { headerValue } from './util.js';

export interface OriginPolicy {
  /** The application's own origin(s), e.g. `'https://app.example.com'`. */
  origin: string | string[];
  /** Other origins allowed to send unsafe requests (e.g. a trusted partner or an admin host). */
  trustedOrigins?: string[];
  /** Accept `Sec-Fetch-Site: same-site` (sibling subdomains). Default false (SEC-24). */
  allowSameSite?: boolean;
  /**
   * SEC-26: refuse request bodies a cross-site page can send without a CORS preflight
   * (form-urlencoded, multipart, text/plain, or an untyped body) on unsafe methods. Turn it on
   * for JSON APIs. Default false.
   */
  requireJson?: boolean;
}

export type IntegrityReason = 'cross-site' | 'origin-mismatch' | 'origin-missing' | 'same-site-refused' | 'form-body-refused';
export type IntegrityResult = { ok: true } | { ok: false; reason: IntegrityReason };

/** Request shape: method plus lower-case header names (node's `IncomingMessage` fits as is). */
export interface IntegrityRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

/** RFC 9110 9.2.1 safe methods: they must not change state, so they need no CSRF check. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** The `Vary` value a response must carry when these headers decide its outcome (SEC-24). */
export const INTEGRITY_VARY = 'Sec-Fetch-Site, Origin';

interface Compiled {
  own: Set<string>;
  trusted: Set<string>;
}
const compiled = new WeakMap<OriginPolicy, Compiled>();

function normalise(o: string, what: string): string {
  let u: URL;
  try {
    u = new URL(o);
  } catch {
    throw new ConfigError(`${what} ${JSON.stringify(o)} is not an absolute URL`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.origin === 'null') {
    throw new ConfigError(`${what} ${JSON.stringify(o)} must be an http(s) origin`);
  }
  return u.origin;
}

/**
 * Validate a policy once (misconfiguration fails at start-up, not per request). Middlewares call
 * it at construction; `verifyRequestIntegrity` calls it lazily and caches the result.
 *
 * @example
 * compileOriginPolicy({ origin: 'https://app.example.com' })
 */
export function compileOriginPolicy(policy: OriginPolicy): Compiled {
  let c = compiled.get(policy);
  if (c) return c;
  if (!policy || (typeof policy.origin !== 'string' && !Array.isArray(policy.origin))) {
    throw new ConfigError('csrf: `origin` (the application origin) is required');
  }
  const own = (Array.isArray(policy.origin) ? policy.origin : [policy.origin]).map((o) => normalise(o, 'origin'));
  if (own.length === 0) throw new ConfigError('csrf: `origin` must name at least one origin');
  const trusted = (policy.trustedOrigins ?? []).map((o) => normalise(o, 'trustedOrigins entry'));
  c = { own: new Set(own), trusted: new Set(trusted) };
  compiled.set(policy, c);
  return c;
}

function mediaType(ct: string): string {
  const i = ct.indexOf(';');
  return (i === -1 ? ct : ct.slice(0, i)).trim().toLowerCase();
}

function hasBody(h: IntegrityRequest['headers']): boolean {
  const len = headerValue(h['content-length']);
  if (len !== undefined && len.trim() !== '0') return true;
  return headerValue(h['transfer-encoding']) !== undefined;
}

/** JSON media types: `application/json` and structured `+json` suffixes (RFC 6839). */
function isJson(mt: string): boolean {
  return mt === 'application/json' || (mt.startsWith('application/') && mt.endsWith('+json'));
}

/**
 * Decide whether a request may change state. Safe methods always pass. For unsafe methods:
 *
 * 1. `Sec-Fetch-Site` (set by the browser, unforgeable by a page): `same-origin` and `none`
 *    (user-initiated, e.g. typed URL) pass; `cross-site` is refused and `same-site` is refused unless
 *    `allowSameSite` — both pass when `Origin` is one of `trustedOrigins`.
 * 2. Without Fetch Metadata (older browsers, non-browser clients): `Origin` must equal one of the
 *    configured origins exactly; `null` is refused; without `Origin`, `Referer`'s origin must match;
 *    with neither the request is refused (`origin-missing`).
 * 3. With `requireJson`, non-JSON bodies are refused (`form-body-refused`).
 *
 * Never throws on hostile headers.
 *
 * @example
 * const r = verifyRequestIntegrity(req, { origin: 'https://app.example.com' })
 * if (!r.ok) { res.statusCode = 403; return res.end() }
 */
export function verifyRequestIntegrity(req: IntegrityRequest, policy: OriginPolicy): IntegrityResult {
  const method = typeof req.method === 'string' ? req.method.toUpperCase() : '';
  if (SAFE.has(method)) return { ok: true };
  const c = compileOriginPolicy(policy);
  const h = req.headers ?? {};
  const origin = headerValue(h['origin']);
  const site = headerValue(h['sec-fetch-site'])?.trim().toLowerCase();

  let verdict: IntegrityResult;
  if (site === 'same-origin' || site === 'none') {
    verdict = { ok: true };
  } else if (site === 'cross-site' || site === 'same-site') {
    if (origin !== undefined && c.trusted.has(origin)) verdict = { ok: true };
    else if (site === 'same-site' && policy.allowSameSite) verdict = { ok: true };
    else verdict = { ok: false, reason: site === 'cross-site' ? 'cross-site' : 'same-site-refused' };
  } else {
    // No (or an unknown) Fetch Metadata value: fall back to exact Origin/Referer matching (SEC-25).
    verdict = checkOrigin(origin, headerValue(h['referer']), c);
  }
  if (!verdict.ok) return verdict;

  if (policy.requireJson) {
    const ct = headerValue(h['content-type']);
    if (ct === undefined ? hasBody(h) : !isJson(mediaType(ct))) return { ok: false, reason: 'form-body-refused' };
  }
  return verdict;
}

function checkOrigin(origin: string | undefined, referer: string | undefined, c: Compiled): IntegrityResult {
  if (origin !== undefined) {
    // `null` (sandboxed frames, file:, some redirects) never matches: it is not an origin we know.
    return c.own.has(origin) || c.trusted.has(origin) ? { ok: true } : { ok: false, reason: 'origin-mismatch' };
  }
  if (referer !== undefined && referer.length > 0 && referer.length <= 8192) {
    let ro: string | undefined;
    try {
      ro = new URL(referer).origin;
    } catch {
      ro = undefined;
    }
    if (ro === undefined || ro === 'null') return { ok: false, reason: 'origin-mismatch' };
    return c.own.has(ro) || c.trusted.has(ro) ? { ok: true } : { ok: false, reason: 'origin-mismatch' };
  }
  return { ok: false, reason: 'origin-missing' };
}

/** True for methods that need CSRF protection (anything not RFC 9110 safe). */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE.has(String(method).toUpperCase());
}
