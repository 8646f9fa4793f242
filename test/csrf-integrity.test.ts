import { describe, expect, it } from 'vitest';
import { verifyRequestIntegrity, compileOriginPolicy, type OriginPolicy } from '../src/csrf/index.js';
import { ConfigError } from '../src/errors.js';

const ORIGIN = 'https://example.org';
const policy: OriginPolicy = { origin: ORIGIN };
const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'PROPFIND'];
const SAFE = ['GET', 'HEAD', 'OPTIONS', 'TRACE'];
const SITES = ['cross-site', 'same-site', 'same-origin', 'none', undefined] as const;

function req(method: string, headers: Record<string, string | undefined>) {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = v;
  return { method, headers: h };
}

describe('SEC-24: Fetch Metadata, every unsafe method x every Sec-Fetch-Site value', () => {
  // Expected verdicts with no Origin header at all (the strictest case for the fallback).
  const expected: Record<string, string | true> = {
    'cross-site': 'cross-site',
    'same-site': 'same-site-refused',
    'same-origin': true,
    none: true,
    absent: 'origin-missing',
  };
  for (const method of UNSAFE) {
    for (const site of SITES) {
      const key = site ?? 'absent';
      it(`SEC-24: ${method} with Sec-Fetch-Site ${key} -> ${expected[key] === true ? 'allowed' : expected[key]}`, () => {
        const r = verifyRequestIntegrity(req(method, { 'sec-fetch-site': site }), policy);
        if (expected[key] === true) expect(r).toEqual({ ok: true });
        else expect(r).toEqual({ ok: false, reason: expected[key] });
      });
    }
  }

  it('SEC-24: a cross-site request is refused even when it claims our Origin (Fetch Metadata wins)', () => {
    expect(verifyRequestIntegrity(req('POST', { 'sec-fetch-site': 'cross-site', origin: ORIGIN }), policy)).toEqual({ ok: false, reason: 'cross-site' });
  });

  it('SEC-24: safe methods and top-level GET navigations always pass, whatever the headers say', () => {
    for (const method of SAFE) {
      for (const site of SITES) {
        expect(verifyRequestIntegrity(req(method, { 'sec-fetch-site': site, origin: 'https://evil.example' }), policy).ok).toBe(true);
      }
    }
  });

  it('SEC-24: same-site is configurable', () => {
    const p = { origin: ORIGIN, allowSameSite: true };
    expect(verifyRequestIntegrity(req('POST', { 'sec-fetch-site': 'same-site', origin: 'https://sub.example.org' }), p)).toEqual({ ok: true });
    expect(verifyRequestIntegrity(req('POST', { 'sec-fetch-site': 'cross-site' }), p).ok).toBe(false);
  });

  it('SEC-24: trusted origins pass cross-site; an untrusted one does not', () => {
    const p = { origin: ORIGIN, trustedOrigins: ['https://partner.example'] };
    expect(verifyRequestIntegrity(req('POST', { 'sec-fetch-site': 'cross-site', origin: 'https://partner.example' }), p)).toEqual({ ok: true });
    expect(verifyRequestIntegrity(req('POST', { 'sec-fetch-site': 'cross-site', origin: 'https://partner.example.evil' }), p).ok).toBe(false);
    expect(verifyRequestIntegrity(req('POST', { origin: 'https://partner.example' }), p)).toEqual({ ok: true });
  });
});

describe('SEC-25: without Fetch Metadata, Origin (then Referer) must match exactly', () => {
  const cases: Array<[string, Record<string, string>, true | string]> = [
    ['exact origin', { origin: ORIGIN }, true],
    ['suffix attack https://example.org.attacker.com', { origin: 'https://example.org.attacker.com' }, 'origin-mismatch'],
    ['prefix attack https://attacker-example.org', { origin: 'https://attacker-example.org' }, 'origin-mismatch'],
    ['scheme downgrade http://example.org', { origin: 'http://example.org' }, 'origin-mismatch'],
    ['other port https://example.org:8443', { origin: 'https://example.org:8443' }, 'origin-mismatch'],
    ['trailing slash', { origin: ORIGIN + '/' }, 'origin-mismatch'],
    ['upper case host', { origin: 'https://EXAMPLE.org' }, 'origin-mismatch'],
    ['null origin', { origin: 'null' }, 'origin-mismatch'],
    ['empty origin', { origin: '' }, 'origin-mismatch'],
    ['missing origin and referer', {}, 'origin-missing'],
    ['referer on our origin', { referer: ORIGIN + '/form?x=1' }, true],
    ['referer on attacker suffix domain', { referer: 'https://example.org.attacker.com/' }, 'origin-mismatch'],
    ['garbage referer', { referer: 'not a url' }, 'origin-mismatch'],
    ['null origin beats a good referer', { origin: 'null', referer: ORIGIN + '/' }, 'origin-mismatch'],
    ['unknown Sec-Fetch-Site value falls back to Origin', { 'sec-fetch-site': 'bogus', origin: 'https://evil.example' }, 'origin-mismatch'],
    ['CR/LF and unicode junk', { origin: 'https://example.org\r\nx: y', referer: '\u0000\u202e' }, 'origin-mismatch'],
  ];
  for (const [name, headers, want] of cases) {
    it(`SEC-25: ${name}`, () => {
      const r = verifyRequestIntegrity(req('POST', headers), policy);
      if (want === true) expect(r).toEqual({ ok: true });
      else expect(r).toEqual({ ok: false, reason: want });
    });
  }

  it('SEC-25: repeated headers use the first value and never throw', () => {
    expect(verifyRequestIntegrity({ method: 'POST', headers: { origin: ['https://evil.example', ORIGIN] } }, policy).ok).toBe(false);
    expect(() => verifyRequestIntegrity({ method: 'POST', headers: { origin: [] as unknown as string[] } }, policy)).not.toThrow();
    expect(() => verifyRequestIntegrity({ method: undefined as unknown as string, headers: undefined as never }, policy)).not.toThrow();
  });

  it('misconfigured policies fail at start-up', () => {
    expect(() => compileOriginPolicy({ origin: 'example.org' })).toThrow(ConfigError);
    expect(() => compileOriginPolicy({ origin: 'null' })).toThrow(ConfigError);
    expect(() => compileOriginPolicy({ origin: [] })).toThrow(ConfigError);
    expect(() => compileOriginPolicy({ origin: 'ftp://example.org' })).toThrow(ConfigError);
    expect(compileOriginPolicy({ origin: 'https://Example.org/path' }).own.has('https://example.org')).toBe(true);
  });
});

describe('SEC-26: JSON endpoints can refuse form and text/plain bodies', () => {
  const p: OriginPolicy = { origin: ORIGIN, requireJson: true };
  const so = { 'sec-fetch-site': 'same-origin' };
  it.each([
    ['application/x-www-form-urlencoded', false],
    ['multipart/form-data; boundary=x', false],
    ['text/plain;charset=UTF-8', false],
    ['TEXT/PLAIN', false],
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['application/merge-patch+json', true],
    ['application/jsonx', false],
  ])('SEC-26: content-type %s -> allowed=%s', (ct, ok) => {
    const r = verifyRequestIntegrity(req('POST', { ...so, 'content-type': ct, 'content-length': '2' }), p);
    expect(r.ok).toBe(ok);
    if (!ok) expect(r).toEqual({ ok: false, reason: 'form-body-refused' });
  });
  it('SEC-26: an untyped body is refused, a bodiless DELETE is not', () => {
    expect(verifyRequestIntegrity(req('POST', { ...so, 'content-length': '5' }), p)).toEqual({ ok: false, reason: 'form-body-refused' });
    expect(verifyRequestIntegrity(req('POST', { ...so, 'transfer-encoding': 'chunked' }), p).ok).toBe(false);
    expect(verifyRequestIntegrity(req('DELETE', { ...so }), p)).toEqual({ ok: true });
    expect(verifyRequestIntegrity(req('GET', { 'content-type': 'text/plain' }), p)).toEqual({ ok: true });
  });
});
