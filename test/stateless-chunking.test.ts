/**
 * SEC-7: seals past one cookie are split across `name.0..name.N` with every Set-Cookie line
 * (attributes included) within 4096 bytes, reassembled on read; too many chunks is a typed error;
 * chunks left over from a previously larger cookie are cleared.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CookieTooLargeError } from '../src/errors.js';
import { createSealedSessions } from '../src/stateless/index-sealed.js';

const keys = [{ id: 'k1', key: randomBytes(32) }];
const big = (n: number): string => randomBytes(n).toString('base64url').slice(0, n);

function cookieOf(lines: readonly string[]): string {
  return lines.filter((l) => !l.includes('Max-Age=0')).map((l) => l.split(';')[0]!).join('; ');
}

describe('SEC-7: chunked sealed cookies', () => {
  it('SEC-7: a large session is split into numbered cookies of at most 4096 bytes each and read back', async () => {
    const sealed = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 4 });
    const s = await sealed.load(undefined);
    s.blob = big(9000);
    await s.save();
    const lines = s.setCookieHeaders;
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    lines.forEach((l, i) => {
      expect(l.startsWith(`__Host-session.${i}=`)).toBe(true);
      expect(Buffer.byteLength(l)).toBeLessThanOrEqual(4096);
      expect(l).toContain('; Path=/; Secure; HttpOnly; SameSite=Lax');
    });
    const r = await sealed.load(cookieOf(lines));
    expect(r.blob).toBe(s.blob);
  });

  it('SEC-7: more chunks than allowed is a CookieTooLargeError on save', async () => {
    const sealed = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 2 });
    const s = await sealed.load(undefined);
    s.blob = big(9000);
    await expect(s.save()).rejects.toBeInstanceOf(CookieTooLargeError);
    await expect(s.save()).rejects.toMatchObject({ code: 'ERR_COOKIE_TOO_LARGE' });
  });

  it('SEC-7: shrinking clears the stale chunks of the previous, larger cookie', async () => {
    const sealed = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 4 });
    const s = await sealed.load(undefined);
    s.blob = big(9000);
    await s.save();
    const r = await sealed.load(cookieOf(s.setCookieHeaders));
    r.blob = 'small';
    await r.save();
    const lines = r.setCookieHeaders;
    expect(lines[0]).toMatch(/^__Host-session=v1\./);
    for (const i of [0, 1, 2]) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^__Host-session\\.${i}=; Max-Age=0`)));
    expect((await sealed.load(cookieOf(lines))).blob).toBe('small');
  });

  it('SEC-7: growing from one cookie to chunks clears the plain cookie', async () => {
    const sealed = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 4 });
    const s = await sealed.load(undefined);
    s.blob = 'x';
    await s.save();
    const r = await sealed.load(cookieOf(s.setCookieHeaders));
    r.blob = big(5000);
    await r.save();
    expect(r.setCookieHeaders).toContainEqual(expect.stringMatching(/^__Host-session=; Max-Age=0/));
    expect((await sealed.load(cookieOf(r.setCookieHeaders))).blob).toBe(r.blob);
  });

  it('SEC-7: a missing middle chunk, or more chunks than allowed, gives an empty session', async () => {
    const sealed = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 4 });
    const s = await sealed.load(undefined);
    s.blob = big(9000);
    await s.save();
    const parts = cookieOf(s.setCookieHeaders).split('; ');
    expect((await sealed.load([parts[0], parts[2]].join('; '))).blob).toBeUndefined();
    const small = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 2 });
    expect((await small.load(parts.join('; '))).blob).toBeUndefined();
  });

  it('SEC-7: the plain cookie beside stale chunks and other cookies: read, and the chunks cleared on the next write', async () => {
    const sealed = createSealedSessions<{ blob?: string }>({ keys, maxChunks: 4 });
    const s = await sealed.load(undefined);
    s.blob = 'plain';
    await s.save();
    const plain = cookieOf(s.setCookieHeaders);
    // Other cookies whose names contain ours, before and after it, do not hide or replace it.
    const header = `x__Host-session=1; a=b; ${plain}; __Host-session.1=stale; __Host-sessionX=2`;
    const r = await sealed.load(header);
    expect(r.blob).toBe('plain');
    r.blob = 'next';
    await r.save();
    expect(r.setCookieHeaders).toContainEqual(expect.stringMatching(/^__Host-session\.1=; Max-Age=0/));
    const only = await sealed.load(`x__Host-session=1; ${plain}`);
    expect(only.blob).toBe('plain');
  });
});
