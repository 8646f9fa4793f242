import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { doubleSubmit } from '../src/csrf/index.js';
import { webCrypto } from '../src/crypto/web.js';
import { parseSetCookie } from '../src/cookie/index.js';
import { ConfigError } from '../src/errors.js';

const KEY = 'csrf-key-0123456789-abcdefghijklmnopqrs';
const OLD = 'old-csrf-key-0123456789-abcdefghijklmno';

async function pair(ds: ReturnType<typeof doubleSubmit>, binding: string) {
  const { token, setCookie } = await ds.issue(binding);
  const c = parseSetCookie(setCookie)!;
  return { token, cookie: `${c.name}=${c.value}`, attrs: c.attributes, name: c.name };
}

describe('SEC-23: signed double-submit cookie', () => {
  const ds = doubleSubmit({ secrets: [KEY] });

  it('SEC-23: the cookie is __Host- (Secure, Path=/, no Domain) and SameSite=Strict', async () => {
    const p = await pair(ds, 'session-a');
    expect(p.name).toBe('__Host-csrf');
    expect(p.attrs).toMatchObject({ secure: true, path: '/', samesite: 'Strict' });
    expect(p.attrs.domain).toBeUndefined();
  });

  it('SEC-23: a matching pair signed for this session passes', async () => {
    const p = await pair(ds, 'session-a');
    expect(await ds.verify('session-a', p.cookie, p.token)).toBe(true);
  });

  it('SEC-23: a token (and cookie) from session A fails on session B', async () => {
    const p = await pair(ds, 'session-a');
    expect(await ds.verify('session-b', p.cookie, p.token)).toBe(false);
  });

  it('SEC-23: a naive unsigned pair fails, and so does a pair signed with another key', async () => {
    const naive = 'v1.' + 'A'.repeat(43) + '.' + 'B'.repeat(43);
    expect(await ds.verify('session-a', `__Host-csrf=${naive}`, naive)).toBe(false);
    const rand = 'C'.repeat(43);
    const forged = `v1.${rand}.${createHmac('sha256', 'another-key-0123456789-abcdefghijklmn').update(`sw-csrf-v1|9:session-a|${rand}`).digest('base64url')}`;
    expect(await ds.verify('session-a', `__Host-csrf=${forged}`, forged)).toBe(false);
  });

  it('SEC-23: cookie and submitted value must be the same; each tampered part fails', async () => {
    const p = await pair(ds, 'session-a');
    const q = await pair(ds, 'session-a');
    expect(await ds.verify('session-a', p.cookie, q.token)).toBe(false);
    expect(await ds.verify('session-a', '', p.token)).toBe(false);
    expect(await ds.verify('session-a', p.cookie, undefined)).toBe(false);
    const [v, rand, mac] = p.token.split('.') as [string, string, string];
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const t of [`v2.${rand}.${mac}`, `${v}.${flip(rand)}.${mac}`, `${v}.${rand}.${flip(mac)}`]) {
      expect(await ds.verify('session-a', `__Host-csrf=${t}`, t)).toBe(false);
    }
  });

  it('SEC-23: bindings cannot be shifted across the separator (length-prefixed)', async () => {
    const p = await pair(ds, 'ab');
    expect(await ds.verify('a', p.cookie, p.token)).toBe(false);
  });

  it('SEC-23: key rotation — old key still verifies, new tokens use the new key; WebCrypto interoperates', async () => {
    const old = doubleSubmit({ secrets: [OLD] });
    const p = await pair(old, 's');
    const rotated = doubleSubmit({ secrets: [KEY, OLD], crypto: webCrypto });
    expect(await rotated.verify('s', p.cookie, p.token)).toBe(true);
    const n = await pair(rotated, 's');
    expect(await ds.verify('s', n.cookie, n.token)).toBe(true);
  });

  it('SEC-23: misconfiguration throws at start-up', () => {
    expect(() => doubleSubmit({ secrets: [] })).toThrow(ConfigError);
    expect(() => doubleSubmit({ secrets: ['short'] })).toThrow(ConfigError);
    expect(() => doubleSubmit({ secrets: [KEY], cookieName: '__Host-x', insecureDevelopmentCookies: true })).toThrow(ConfigError);
  });
});
