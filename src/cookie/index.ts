/**
 * Cookie parsing and serialisation on strings only (RFC 6265bis). Parsing never throws on hostile
 * input; serialisation refuses values and attribute combinations that a browser would reject or
 * that weaken the cookie (SEC-4..9), so mistakes surface at configuration time.
 */
import { ConfigError, CookieTooLargeError } from '../errors.js';

export type SameSite = 'Strict' | 'Lax' | 'None';

export interface CookieAttributes {
  /** Seconds. Absent = a non-persistent (browser-session) cookie, our default (SEC-8). */
  maxAge?: number;
  /** Sent beside Max-Age (older clients know only Expires). */
  expires?: Date;
  domain?: string;
  path?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: SameSite;
  partitioned?: boolean;
  priority?: 'Low' | 'Medium' | 'High';
}

/** RFC 6265bis: browsers drop cookies whose name+value exceed 4096 bytes. */
export const MAX_COOKIE_BYTES = 4096;
/** RFC 6265bis 5.6.1: user agents cap Max-Age/Expires at 400 days. */
export const MAX_COOKIE_AGE_SECONDS = 400 * 24 * 3600;
/** Headers larger than this are not parsed at all: no legitimate client sends them. */
const MAX_HEADER_LENGTH = 16 * 1024;

// RFC 7230 token characters, the only ones allowed in a cookie name.
const NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// cookie-octet: no CTLs, whitespace, DQUOTE, comma, semicolon or backslash.
const VALUE_RE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
const DOMAIN_RE = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PATH_RE = /^\/[\x20-\x3A\x3C-\x7E]*$/;

function safeDecode(v: string): string {
  if (v.indexOf('%') === -1) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    // A malformed escape is kept as-is rather than throwing (hostile input, hono's habit).
    return v;
  }
}

/**
 * Parse a `Cookie` header into a null-prototype record. The first occurrence of a name wins
 * (browsers send the most specific path first); values are URI-decoded when valid.
 * Never throws. Oversized headers yield an empty record.
 *
 * @example
 * parseCookieHeader('a=1; b=%E2%9C%93') // { a: '1', b: '✓' }
 */
export function parseCookieHeader(header: string | null | undefined, only?: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (only !== undefined) {
    const v = cookieValue(header, only);
    if (v !== undefined) out[only] = v;
    return out;
  }
  if (typeof header !== 'string' || header.length === 0 || header.length > MAX_HEADER_LENGTH) return out;
  let pos = 0;
  const len = header.length;
  while (pos < len) {
    let end = header.indexOf(';', pos);
    if (end === -1) end = len;
    const eq = header.indexOf('=', pos);
    if (eq !== -1 && eq < end) {
      const name = header.slice(pos, eq).trim();
      if (name && !(name in out) && (only === undefined || name === only)) {
        let value = header.slice(eq + 1, end).trim();
        if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) {
          value = value.slice(1, -1);
        }
        out[name] = safeDecode(value);
        if (only !== undefined) return out;
      }
    }
    pos = end + 1;
  }
  return out;
}

/**
 * The value of one cookie, as `parseCookieHeader(header, name)[name]` reads it, without building a
 * record (this runs on every request). Never throws.
 *
 * @example
 * cookieValue('a=1; sid=abc', 'sid') // 'abc'
 */
export function cookieValue(header: string | null | undefined, name: string): string | undefined {
  if (typeof header !== 'string' || header.length === 0 || header.length > MAX_HEADER_LENGTH) return undefined;
  // The full parse trims names and splits at ';' and the first '=': it never yields a name that
  // is empty, padded, or holds ';' or '='.
  if (name.length === 0 || name.trim() !== name || name.includes(';') || name.includes('=')) return undefined;
  return findCookie(header, name);
}

const WS_RE = /\s/;

/** Exactly what `String.prototype.trim` removes (the full parse trims), space and tab first. */
function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || ((c > 0x7f || (c >= 0x0a && c <= 0x0d)) && WS_RE.test(String.fromCharCode(c)));
}

/**
 * The value of the first cookie called `name`, without splitting the whole header: this runs on
 * every request, and most headers carry other cookies too. Same rules as the full parse.
 */
function findCookie(header: string, name: string): string | undefined {
  const len = header.length;
  for (let i = header.indexOf(name); i !== -1; i = header.indexOf(name, i + 1)) {
    let j = i - 1;
    while (j >= 0 && isWs(header.charCodeAt(j))) j--;
    if (j >= 0 && header.charCodeAt(j) !== 0x3b) continue; // not at the start of a pair
    let k = i + name.length;
    while (k < len && isWs(header.charCodeAt(k))) k++;
    if (header.charCodeAt(k) !== 0x3d) continue; // a longer name that starts the same way
    let end = header.indexOf(';', k + 1);
    if (end === -1) end = len;
    let value = header.slice(k + 1, end).trim();
    if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) value = value.slice(1, -1);
    return safeDecode(value);
  }
  return undefined;
}

/** Latest date the cookie-date grammar can write (year 9999), RFC 6265bis 5.1.1. */
const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

function isFlag(v: unknown): boolean {
  return v === undefined || typeof v === 'boolean';
}

/**
 * Validate a cookie's name and attributes; throws ConfigError on combinations browsers reject or
 * that weaken security: `__Host-` needs Secure, Path=/ and no Domain (SEC-6); `__Secure-` needs
 * Secure; SameSite=None needs Secure (SEC-5); Partitioned needs Secure and SameSite=None (SEC-9);
 * Max-Age must stay under 400 days (SEC-8). Every attribute is checked for its own grammar too, so
 * no value can smuggle a `;`, CR/LF or another attribute into the header.
 */
export function validateCookieOptions(name: string, a: CookieAttributes): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new ConfigError(`cookie name ${JSON.stringify(name)} has characters a cookie name cannot hold`);
  if (typeof a !== 'object' || a === null) throw new ConfigError('cookie attributes must be an object');
  if (!isFlag(a.secure) || !isFlag(a.httpOnly) || !isFlag(a.partitioned)) throw new ConfigError('secure, httpOnly and partitioned must be booleans');
  const lower = name.toLowerCase();
  if (lower.startsWith('__host-')) {
    if (!a.secure) throw new ConfigError('__Host- cookies require secure: true');
    if (a.path !== '/') throw new ConfigError("__Host- cookies require path: '/'");
    if (a.domain) throw new ConfigError('__Host- cookies must not set a domain');
  }
  if (lower.startsWith('__secure-') && !a.secure) throw new ConfigError('__Secure- cookies require secure: true');
  if (a.sameSite === 'None' && !a.secure) throw new ConfigError('SameSite=None requires secure: true');
  if (a.sameSite !== undefined && !['Strict', 'Lax', 'None'].includes(a.sameSite)) {
    throw new ConfigError(`sameSite must be 'Strict', 'Lax' or 'None'`);
  }
  if (a.partitioned && (!a.secure || a.sameSite !== 'None')) {
    throw new ConfigError('Partitioned cookies require secure: true and sameSite: None');
  }
  if (a.maxAge !== undefined) {
    if (!Number.isInteger(a.maxAge) || a.maxAge < 0) throw new ConfigError('maxAge must be a non-negative integer (seconds)');
    if (a.maxAge > MAX_COOKIE_AGE_SECONDS) throw new ConfigError('maxAge must not exceed 400 days');
  }
  if (a.expires !== undefined) {
    const t = a.expires instanceof Date ? a.expires.getTime() : NaN;
    if (!(t >= 0 && t <= MAX_DATE_MS)) throw new ConfigError('expires must be a valid Date between 1970 and 9999');
  }
  if (a.priority !== undefined && a.priority !== 'Low' && a.priority !== 'Medium' && a.priority !== 'High') {
    throw new ConfigError("priority must be 'Low', 'Medium' or 'High'");
  }
  if (a.domain !== undefined && (typeof a.domain !== 'string' || a.domain.length > 253 || !DOMAIN_RE.test(a.domain))) {
    throw new ConfigError('cookie domain is not a valid host name');
  }
  if (a.path !== undefined && (typeof a.path !== 'string' || a.path.length > 1024 || !PATH_RE.test(a.path))) {
    throw new ConfigError("cookie path must start with '/' and hold no ';' or control characters");
  }
}

/**
 * Serialise a Set-Cookie header value. The value must already be cookie-safe (our tokens are
 * base64url); anything else is refused rather than silently encoded, so CR/LF can never reach a
 * header. Every attribute is validated as `validateCookieOptions` does (ConfigError): the header
 * holds exactly the attributes asked for, and never a combination a browser rejects or that
 * weakens the cookie. Throws CookieTooLargeError past 4096 bytes (SEC-7).
 *
 * @example
 * serializeCookie('__Host-sid', token, { secure: true, httpOnly: true, sameSite: 'Lax', path: '/' })
 */
export function serializeCookie(name: string, value: string, a: CookieAttributes = {}): string {
  validateCookieOptions(name, a);
  if (typeof value !== 'string' || !VALUE_RE.test(value)) throw new ConfigError('cookie value holds characters a cookie cannot carry');
  // Both are ASCII (checked above), so characters are bytes; no Buffer, which edge runtimes lack.
  if (name.length + value.length + 1 > MAX_COOKIE_BYTES) {
    throw new CookieTooLargeError(`cookie ${name} would exceed ${MAX_COOKIE_BYTES} bytes`);
  }
  let s = `${name}=${value}`;
  if (a.maxAge !== undefined) s += `; Max-Age=${a.maxAge}`;
  // Expires beside Max-Age for clients that predate Max-Age; Max-Age wins where both are known.
  if (a.expires !== undefined) s += `; Expires=${a.expires.toUTCString()}`;
  if (a.domain !== undefined) s += `; Domain=${a.domain}`;
  if (a.path !== undefined) s += `; Path=${a.path}`;
  if (a.secure) s += '; Secure';
  if (a.httpOnly) s += '; HttpOnly';
  if (a.sameSite) s += `; SameSite=${a.sameSite}`;
  if (a.partitioned) s += '; Partitioned';
  if (a.priority) s += `; Priority=${a.priority}`;
  return s;
}

/** Parse one Set-Cookie header value (used by tests and adapters that inspect their output). */
export function parseSetCookie(header: string): { name: string; value: string; attributes: Record<string, string | true> } | null {
  if (typeof header !== 'string') return null;
  const parts = header.split(';');
  const first = parts.shift() ?? '';
  const eq = first.indexOf('=');
  if (eq <= 0) return null;
  const attributes: Record<string, string | true> = Object.create(null);
  for (const p of parts) {
    const i = p.indexOf('=');
    const k = (i === -1 ? p : p.slice(0, i)).trim().toLowerCase();
    if (!k) continue;
    attributes[k] = i === -1 ? true : p.slice(i + 1).trim();
  }
  return { name: first.slice(0, eq).trim(), value: first.slice(eq + 1).trim(), attributes };
}
