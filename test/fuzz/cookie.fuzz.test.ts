/**
 * Fuzz targets with oracles for the public cookie functions (issue 20): the Cookie header parser
 * (full and single-name paths must agree), the Set-Cookie parser, and the serialiser (every
 * attribute validated; what it writes holds exactly the attributes asked for, no CTL, and never a
 * combination a browser rejects or that weakens the cookie).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_COOKIE_AGE_SECONDS, parseCookieHeader, parseSetCookie, serializeCookie, type CookieAttributes } from '../../src/cookie/index.js';
import { isSessionwardError } from '../../src/errors.js';
import { fuzzRuns } from '../helpers/fuzz.js';

// What arrives over HTTP: Latin-1 and UTF-8 text, with the separators and the whitespace that
// String.prototype.trim knows but a cookie grammar does not.
const HOSTILE = [...'sid a=;,"%\\ \t', '\u00a0', '\ufeff', '\u2028', '\u3000', '\u000b', '\r', '\n', '\u0000', '\u007f', 'é', '😀', '%41', '%zz', '__Host-'];
const hostileString = (maxLength: number) => fc.array(fc.constantFrom(...HOSTILE), { maxLength }).map((a) => a.join(''));
const header = fc.oneof(hostileString(40), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));

describe('fuzz: Cookie header parser', () => {
  it('never throws, returns a null-prototype record, and the single-name path agrees with the full parse on every input', () => {
    fc.assert(
      fc.property(header, fc.oneof(fc.constantFrom('sid', 'a', '__Host-sid', ' sid', 'sid\u00a0', 's=d', ''), hostileString(5)), (h, pick) => {
        const all = parseCookieHeader(h);
        expect(Object.getPrototypeOf(all)).toBeNull();
        for (const name of [pick, ...Object.keys(all)]) {
          const one = parseCookieHeader(h, name);
          expect(Object.getPrototypeOf(one)).toBeNull();
          expect(one[name]).toBe(all[name]);
          expect(Object.keys(one).length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: fuzzRuns('cookie header', 3000, 300_000) },
    );
  });
});

// An independent statement of the rules (RFC 6265bis + the project's SEC-4..9), not a copy of
// validateCookieOptions: the oracle for the serialiser.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const OCTETS = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// Control characters are what these two look for.
// eslint-disable-next-line no-control-regex
const NOT_IN_PATH = /[\x00-\x1f\x7f-\uffff;]/;
// eslint-disable-next-line no-control-regex
const CTL = /[\x00-\x1f\x7f]/;

function validDomain(d: unknown): boolean {
  if (typeof d !== 'string' || d.length === 0 || d.length > 253) return false;
  const labels = (d.startsWith('.') ? d.slice(1) : d).split('.');
  return labels.every((l) => LABEL.test(l));
}

function expectedAttributes(name: string, value: string, a: Record<string, unknown>): Record<string, string | true> | null {
  if (!TOKEN.test(name) || typeof value !== 'string' || !OCTETS.test(value)) return null;
  if (Buffer.byteLength(name) + Buffer.byteLength(value) + 1 > 4096) return null;
  for (const f of ['secure', 'httpOnly', 'partitioned']) if (a[f] !== undefined && typeof a[f] !== 'boolean') return null;
  const out: Record<string, string | true> = {};
  if (a.maxAge !== undefined) {
    if (!Number.isInteger(a.maxAge) || (a.maxAge as number) < 0 || (a.maxAge as number) > MAX_COOKIE_AGE_SECONDS) return null;
    out['max-age'] = String(a.maxAge);
  }
  if (a.expires !== undefined) {
    const t = a.expires instanceof Date ? a.expires.getTime() : NaN;
    if (!(t >= 0 && t <= Date.UTC(9999, 11, 31, 23, 59, 59))) return null;
    out.expires = (a.expires as Date).toUTCString();
  }
  if (a.domain !== undefined) {
    if (!validDomain(a.domain)) return null;
    out.domain = a.domain as string;
  }
  if (a.path !== undefined) {
    if (typeof a.path !== 'string' || !a.path.startsWith('/') || a.path.length > 1024 || NOT_IN_PATH.test(a.path)) return null;
    out.path = a.path;
  }
  if (a.secure) out.secure = true;
  if (a.httpOnly) out.httponly = true;
  if (a.sameSite !== undefined) {
    if (a.sameSite !== 'Strict' && a.sameSite !== 'Lax' && a.sameSite !== 'None') return null;
    out.samesite = a.sameSite;
  }
  if (a.partitioned) out.partitioned = true;
  if (a.priority !== undefined) {
    if (a.priority !== 'Low' && a.priority !== 'Medium' && a.priority !== 'High') return null;
    out.priority = a.priority;
  }
  const lower = name.toLowerCase();
  if (lower.startsWith('__host-') && (a.secure !== true || a.path !== '/' || a.domain !== undefined)) return null;
  if (lower.startsWith('__secure-') && a.secure !== true) return null;
  if (a.sameSite === 'None' && a.secure !== true) return null;
  if (a.partitioned && (a.secure !== true || a.sameSite !== 'None')) return null;
  return out;
}

const nasty = fc.oneof(hostileString(12), fc.string({ maxLength: 12 }), fc.constantFrom('a;b', 'x\r\nSet-Cookie: evil=1', 'Lax; Domain=evil.example', '/; HttpOnly', 'example.com;', ''));
const attrs = fc.record(
  {
    maxAge: fc.oneof(fc.integer({ min: -10, max: MAX_COOKIE_AGE_SECONDS + 10 }), fc.constantFrom(0, 1.5, NaN, Infinity, -0, 2 ** 53), fc.constant(MAX_COOKIE_AGE_SECONDS)),
    expires: fc.oneof(fc.date({ noInvalidDate: false }), fc.constantFrom(new Date(0), new Date(NaN), new Date(-1))),
    domain: fc.oneof(fc.constantFrom('example.com', '.example.com', 'a-b.example', 'x'.repeat(64) + '.com'), nasty),
    path: fc.oneof(fc.constantFrom('/', '/app', '/a b'), nasty),
    secure: fc.oneof(fc.boolean(), fc.constantFrom('yes', 1)),
    httpOnly: fc.oneof(fc.boolean(), fc.constantFrom('no', 0)),
    sameSite: fc.oneof(fc.constantFrom('Strict', 'Lax', 'None', 'lax', 'strict'), nasty),
    partitioned: fc.boolean(),
    priority: fc.oneof(fc.constantFrom('Low', 'Medium', 'High', 'high'), nasty),
  },
  { requiredKeys: [] },
);
const cookieName = fc.oneof(fc.constantFrom('sid', '__Host-sid', '__Secure-sid', '__host-sid', 'a', 'bad name', 'x;y', ''), hostileString(6));
const cookieValue = fc.oneof(fc.constantFrom('v', '', 'abc-_.~', 'a'.repeat(4100)), hostileString(8));

describe('fuzz: Set-Cookie serialiser and parser', () => {
  it('serializeCookie writes exactly the attributes asked for when they are valid, and refuses with a typed error otherwise', () => {
    fc.assert(
      fc.property(cookieName, cookieValue, attrs, (name, value, a) => {
        const want = expectedAttributes(name, value, a);
        let out: string;
        try {
          out = serializeCookie(name, value, a as CookieAttributes);
        } catch (e) {
          expect(isSessionwardError(e)).toBe(true);
          expect(want).toBeNull();
          return;
        }
        expect(want).not.toBeNull();
        // No CTL can reach a header (CR/LF splitting, NUL truncation).
        expect(out).not.toMatch(CTL);
        const p = parseSetCookie(out)!;
        expect(p.name).toBe(name);
        expect(p.value).toBe(value);
        expect({ ...p.attributes }).toEqual(want);
      }),
      { numRuns: fuzzRuns('serializeCookie', 3000, 300_000) },
    );
  });

  it('parseSetCookie never throws on any input and reads back every valid serialisation', () => {
    fc.assert(
      fc.property(header, (h) => {
        const p = parseSetCookie(h);
        if (p !== null) expect(Object.getPrototypeOf(p.attributes)).toBeNull();
      }),
      { numRuns: fuzzRuns('parseSetCookie hostile', 2000, 100_000) },
    );
    const validAttrs = fc.record(
      {
        maxAge: fc.integer({ min: 0, max: MAX_COOKIE_AGE_SECONDS }),
        path: fc.constantFrom('/', '/app', '/a/b'),
        domain: fc.constantFrom('example.com', 'sub.example.org'),
        secure: fc.constant(true),
        httpOnly: fc.boolean(),
        sameSite: fc.constantFrom('Strict', 'Lax', 'None'),
        priority: fc.constantFrom('Low', 'Medium', 'High'),
      },
      { requiredKeys: ['secure'] },
    );
    fc.assert(
      fc.property(fc.constantFrom('sid', '__Secure-x', 'n'), fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/), validAttrs, (name, value, a) => {
        const p = parseSetCookie(serializeCookie(name, value, a as CookieAttributes))!;
        expect([p.name, p.value]).toEqual([name, value]);
        expect({ ...p.attributes }).toEqual(expectedAttributes(name, value, a));
      }),
      { numRuns: fuzzRuns('Set-Cookie round trip', 1000, 100_000) },
    );
  });
});
