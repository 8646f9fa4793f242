import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { cookieValue, parseCookieHeader, serializeCookie, validateCookieOptions, parseSetCookie, type CookieAttributes } from '../src/cookie/index.js';
import { ConfigError, CookieTooLargeError, MemoryStore, SessionManager } from '../src/index.js';
import { setup, setCookies } from './helpers/core.js';

describe('cookie parsing', () => {
  it('never throws on hostile headers (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('%', '%E0%A4%A', 'a=%zz', ';;;=;', 'a="x', '=', '__proto__=1', 'constructor=2')), (h) => {
        const r = parseCookieHeader(h);
        expect(Object.getPrototypeOf(r)).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it('cookieValue (one cookie, no record built) reads what the full parse reads, for any header (property)', () => {
    const part = fc.oneof(fc.constantFrom('sid', ' sid', 'sid ', 'xsid', 'sidx', '=', ';', ' ', '"', '%2', 'a', '\t', '\u00a0'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(part, { maxLength: 14 }).map((a) => a.join('')), fc.constantFrom('sid', 'a', '__Host-sid'), (h, name) => {
        expect(cookieValue(h, name)).toBe(parseCookieHeader(h)[name]);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps malformed escapes as-is, decodes valid ones, first duplicate wins', () => {
    expect(parseCookieHeader('a=%E0%A4%A; b=%E2%9C%93; a=2')).toEqual(Object.assign(Object.create(null), { a: '%E0%A4%A', b: '✓' }));
    expect(parseCookieHeader('__proto__=x').__proto__).toBe('x');
  });

  it('ignores headers larger than any browser sends', () => {
    expect(Object.keys(parseCookieHeader(`a=1; ${'x'.repeat(20_000)}`))).toEqual([]);
  });

  it('round-trips serialize → parse for any cookie-safe value (property)', () => {
    const safe = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~!*'.split('')), maxLength: 100 });
    fc.assert(
      fc.property(safe, (v) => {
        const sc = serializeCookie('n', v, { path: '/', httpOnly: true, secure: true, sameSite: 'Lax' });
        expect(parseCookieHeader(sc.split(';')[0]).n).toBe(v);
      }),
    );
  });

  it('refuses CR/LF, semicolons and non-token names in what it writes', () => {
    expect(() => serializeCookie('n', 'a\r\nSet-Cookie: evil=1')).toThrow(ConfigError);
    expect(() => serializeCookie('n', 'a;b')).toThrow(ConfigError);
    expect(() => serializeCookie('bad name', 'v')).toThrow(ConfigError);
  });
});

describe('cookie attributes', () => {
  it('SEC-4: Secure and HttpOnly by default, and the token only travels in Set-Cookie', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    s.set('a', 1);
    const [c] = setCookies((await manager.commit(s)).headers);
    expect(c!.attributes.secure).toBe(true);
    expect(c!.attributes.httponly).toBe(true);
  });

  it('SEC-5: SameSite is always explicit (Lax default); None without Secure is a configuration error', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    s.set('a', 1);
    const [c] = setCookies((await manager.commit(s)).headers);
    expect(c!.attributes.samesite).toBe('Lax');
    expect(() => validateCookieOptions('sid', { sameSite: 'None', secure: false })).toThrow(ConfigError);
    expect(
      () => new SessionManager({ store: new MemoryStore(), cookie: { sameSite: 'None', insecureDevelopmentCookies: true }, warn: () => {} }),
    ).toThrow(ConfigError);
  });

  it('SEC-6: __Host- prefix by default; invalid prefix/attribute combinations throw (property)', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    s.set('a', 1);
    const [c] = setCookies((await manager.commit(s)).headers);
    expect(c!.name).toBe('__Host-sid');
    expect(c!.attributes.path).toBe('/');
    expect(c!.attributes.domain).toBeUndefined();

    const attrs = fc.record({
      secure: fc.boolean(),
      path: fc.constantFrom('/', '/app', undefined),
      domain: fc.constantFrom('example.com', undefined),
      sameSite: fc.constantFrom('Lax', 'Strict', 'None', undefined),
      partitioned: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.constantFrom('__Host-sid', '__Secure-sid', 'sid'), attrs, (name, a) => {
        const valid =
          (!name.startsWith('__Host-') || (a.secure && a.path === '/' && !a.domain)) &&
          (!name.startsWith('__Secure-') || a.secure) &&
          (a.sameSite !== 'None' || a.secure) &&
          (!a.partitioned || (a.secure && a.sameSite === 'None'));
        const run = () => validateCookieOptions(name, a as CookieAttributes);
        if (valid) expect(run).not.toThrow();
        else expect(run).toThrow(ConfigError);
      }),
      { numRuns: 500 },
    );
  });

  it('SEC-7: name+value over 4096 bytes is a clear, typed error', () => {
    expect(() => serializeCookie('n', 'a'.repeat(4094))).not.toThrow();
    expect(() => serializeCookie('n', 'a'.repeat(4095))).toThrow(CookieTooLargeError);
  });

  it('SEC-8: the default session cookie has no Expires/Max-Age; Max-Age is capped at 400 days', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    s.set('a', 1);
    const [c] = setCookies((await manager.commit(s)).headers);
    expect(c!.attributes['max-age']).toBeUndefined();
    expect(c!.attributes.expires).toBeUndefined();
    expect(() => validateCookieOptions('sid', { maxAge: 401 * 24 * 3600 })).toThrow(ConfigError);
    expect(() => new SessionManager({ store: new MemoryStore(), cookie: { maxAge: 401 * 24 * 3600_000 } })).toThrow(ConfigError);
  });

  it('SEC-9: Partitioned requires Secure and SameSite=None', () => {
    expect(() => validateCookieOptions('sid', { partitioned: true, secure: true, sameSite: 'Lax' })).toThrow(ConfigError);
    expect(() => validateCookieOptions('sid', { partitioned: true, secure: false, sameSite: 'None' })).toThrow(ConfigError);
    expect(() => validateCookieOptions('sid', { partitioned: true, secure: true, sameSite: 'None' })).not.toThrow();
    expect(() => new SessionManager({ store: new MemoryStore(), cookie: { partitioned: true } })).toThrow(ConfigError);
  });

  it('SEC-36: logout clears with the same attributes and Max-Age=0, optionally Clear-Site-Data', async () => {
    const { manager } = setup({ clearSiteData: true });
    const s = await manager.load({});
    await s.login('u');
    const [set] = setCookies((await manager.commit(s)).headers);
    const again = await manager.load({ cookie: `${set!.name}=${set!.value}` });
    await again.destroy();
    const { headers } = await manager.commit(again);
    const [cleared] = setCookies(headers);
    expect(cleared!.name).toBe(set!.name);
    expect(cleared!.value).toBe('');
    expect(cleared!.attributes['max-age']).toBe('0');
    for (const k of ['path', 'secure', 'httponly', 'samesite'] as const) expect(cleared!.attributes[k]).toEqual(set!.attributes[k]);
    expect(headers).toContainEqual(['clear-site-data', '"cookies", "storage"']);
    expect((await manager.load({ cookie: `${set!.name}=${set!.value}` })).isNew).toBe(true);
  });

  it('parseSetCookie reads what serializeCookie writes', () => {
    const p = parseSetCookie(serializeCookie('a', 'b', { maxAge: 5, path: '/', secure: true, sameSite: 'Strict' }))!;
    expect(p).toEqual({ name: 'a', value: 'b', attributes: Object.assign(Object.create(null), { 'max-age': '5', path: '/', secure: true, samesite: 'Strict' }) });
  });
});

describe('serializeCookie validates every attribute (issue 20 fuzzing)', () => {
  it('SEC-6: serializeCookie refuses attribute injection, CTLs, invalid Max-Age/Expires and weakening combinations with a typed error', () => {
    const bad: Array<[string, CookieAttributes]> = [
      ['sid', { domain: 'example.com; Secure' }],
      ['sid', { path: '/; Domain=evil.example' }],
      ['sid', { sameSite: 'Lax; Domain=evil.example' as never }],
      ['sid', { path: '/\r\nSet-Cookie: x=1' }],
      ['sid', { domain: '' }],
      ['sid', { maxAge: 1.5 }],
      ['sid', { maxAge: -1 }],
      ['sid', { maxAge: NaN }],
      ['sid', { maxAge: 401 * 86400 }],
      ['sid', { expires: new Date(NaN) }],
      ['sid', { priority: 'Urgent' as never }],
      ['sid', { secure: 'yes' as never }],
      ['__Host-sid', { secure: true, path: '/', domain: 'example.com' }],
      ['__Host-sid', { secure: true, path: '/app' }],
      ['__Host-sid', { secure: true }],
      ['__Secure-sid', {}],
      ['sid', { sameSite: 'lax' as never }],
      ['sid', { sameSite: 'None' }],
      ['sid', { partitioned: true, secure: true, sameSite: 'Lax' }],
    ];
    for (const [name, a] of bad) expect(() => serializeCookie(name, 'v', a), JSON.stringify([name, a])).toThrow(ConfigError);
    expect(serializeCookie('__Host-sid', 'v', { secure: true, path: '/', sameSite: 'Lax', maxAge: 60 })).toBe('__Host-sid=v; Max-Age=60; Path=/; Secure; SameSite=Lax');
  });

  it('the single-name lookup agrees with the full parse for names padded with non-breaking spaces and other trimmed whitespace', () => {
    for (const h of ['\u00a0sid=1', 'a=0;\u00a0sid=1', 'a=0;\ufeffsid=1; sid=2', 'sid\u2028=1', 'x=1,\u00a0sid=2;\u3000sid=3']) {
      for (const name of Object.keys(parseCookieHeader(h))) expect(parseCookieHeader(h, name)[name], JSON.stringify(h)).toBe(parseCookieHeader(h)[name]);
    }
    // A name the full parse can never produce is never found (and never loops).
    for (const name of ['', ' sid', 'sid ', 'a=b', 'a;b']) expect(parseCookieHeader('a=1; sid=2; a=b=3', name)).toEqual({});
  });
});

describe('single-cookie lookup', () => {
  it('finds the same value as the full parse for any header (property)', () => {
    const part = fc.oneof(fc.constantFrom('sid', 'xsid', 'sid2', ' sid', 'sid ', '__Host-sid', 'a'), fc.string({ maxLength: 6 }));
    const header = fc.array(fc.tuple(part, fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('"q"', '%41', '%zz', ''))), { maxLength: 6 })
      .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join(fc.sample(fc.constantFrom('; ', ';', ' ; '), 1)[0]!));
    fc.assert(
      fc.property(header, fc.constantFrom('sid', '__Host-sid', 'a'), (h, name) => {
        expect(parseCookieHeader(h, name)[name]).toBe(parseCookieHeader(h)[name]);
      }),
      { numRuns: 3000 },
    );
  });
});
