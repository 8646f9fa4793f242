/**
 * Migration from iron-session: a cookie written by the real iron-session (`Fe26.2`) is read once
 * with the old password(s) and re-sealed in our format; tampered or expired iron cookies are
 * refused like any bad cookie. Each tested major where the runtime meets its engines field:
 * iron-session 8 everywhere, 9 (the current one, npm alias `iron-session9`) on Node >= 22.13 (the
 * Node 24 suite, scripts/runtimes.sh).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createSealedSessions, getSealedSession, readIronSeal, Revocation, type StatelessEvent } from '../src/stateless/index-sealed.js';
import { MemoryStore } from '../src/stores/memory.js';
import { listen, close } from '../bench/lib/http.js';

const IRON_PASSWORD = 'iron-session-password-at-least-32-chars!';
const keys = [{ id: 'k1', key: randomBytes(32) }];

function cookieOf(lines: readonly string[]): string {
  return lines.filter((l) => !l.includes('Max-Age=0')).map((l) => l.split(';')[0]!).join('; ');
}

type Iron = Pick<typeof import('iron-session'), 'getIronSession' | 'sealData'>;
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const VERSIONS: Array<{ name: string; load: () => Promise<Iron> }> = [
  { name: 'iron-session 8', load: () => import('iron-session') },
  // iron-session 9's engines field: node >= 22.13.0.
  ...(major > 22 || (major === 22 && minor >= 13) ? [{ name: 'iron-session 9', load: () => import('iron-session9') as Promise<Iron> }] : []),
];

describe.each(VERSIONS)('$name migration', ({ load }) => {
  let getIronSession: Iron['getIronSession'];
  let sealData: Iron['sealData'];
  beforeAll(async () => {
    ({ getIronSession, sealData } = await load());
  });

  it('reads a seal written by iron-session sealData (password map, newest id)', async () => {
    const seal = await sealData({ user: { id: 7, name: 'ada' } }, { password: { 1: 'x'.repeat(32), 2: IRON_PASSWORD } });
    expect(seal.startsWith('Fe26.2*2*')).toBe(true);
    expect(await readIronSeal(seal, { password: { 1: 'x'.repeat(32), 2: IRON_PASSWORD } })).toEqual({ user: { id: 7, name: 'ada' } });
    expect(await readIronSeal(seal, { password: { 1: 'x'.repeat(32) } })).toBeNull();
    expect(await readIronSeal(seal, { password: { 2: 'y'.repeat(32) } })).toBeNull();
  });

  it('refuses tampered and expired iron seals', async () => {
    const seal = await sealData({ a: 1 }, { password: IRON_PASSWORD, ttl: 60 });
    const parts = seal.split('*');
    const badCt = [...parts.slice(0, 4), parts[4]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), ...parts.slice(5)].join('*');
    expect(await readIronSeal(badCt, { password: IRON_PASSWORD })).toBeNull();
    expect(await readIronSeal(seal, { password: IRON_PASSWORD, now: Date.now() + 180_000 })).toBeNull();
    expect(await readIronSeal(seal, { password: IRON_PASSWORD })).toEqual({ a: 1 });
    for (const junk of ['Fe26.2*', 'Fe26.2*1*a*b*c*d*e*f', `${seal}~x`, 'Fe26.2' + '*'.repeat(7)]) {
      expect(await readIronSeal(junk, { password: IRON_PASSWORD })).toBeNull();
    }
  });

  it('a cookie set by real getIronSession over HTTP is migrated on the next request and re-sealed', async () => {
    const ironOptions = { password: IRON_PASSWORD, cookieName: 'app_session', cookieOptions: { secure: false } };
    const events: StatelessEvent[] = [];
    const ours = {
      keys,
      cookieName: 'app_session',
      insecureDevelopmentCookies: true,
      iron: { password: IRON_PASSWORD },
      onEvent: (e: StatelessEvent) => events.push(e),
    };
    const server = http.createServer(async (req, res) => {
      if (req.url === '/iron-login') {
        const s = await getIronSession<{ user?: string; visits?: number }>(req, res, ironOptions);
        s.user = 'ada';
        s.visits = 3;
        await s.save();
        res.end('ok');
        return;
      }
      const s = await getSealedSession<{ user?: string; visits?: number }>(req, res, ours);
      s.visits = (s.visits ?? 0) + 1;
      await s.save();
      res.end(JSON.stringify({ user: s.user ?? null, visits: s.visits }));
    });
    const base = await listen(server);
    try {
      const r1 = await fetch(`${base}/iron-login`);
      const ironCookie = r1.headers.getSetCookie()[0]!.split(';')[0]!;
      expect(ironCookie).toMatch(/^app_session=Fe26\.2\*/);

      const r2 = await fetch(`${base}/app`, { headers: { cookie: ironCookie } });
      expect(await r2.json()).toEqual({ user: 'ada', visits: 4 });
      const set = r2.headers.getSetCookie();
      expect(set).toHaveLength(1); // the save() replaced the load-time re-seal, no duplicates
      expect(set[0]).toMatch(/^app_session=v1\.k1\./);
      expect(r2.headers.get('cache-control')).toBe('no-store');
      expect(events).toContainEqual(expect.objectContaining({ type: 'sealed.migrated', from: 'iron' }));

      const r3 = await fetch(`${base}/app`, { headers: { cookie: cookieOf(set) } });
      expect(await r3.json()).toEqual({ user: 'ada', visits: 5 });
    } finally {
      await close(server);
    }
  });

  it('with a different old cookie name, the iron cookie is cleared after migration', async () => {
    const seal = await sealData({ user: 'bob' }, { password: IRON_PASSWORD });
    const sealed = createSealedSessions<{ user?: string }>({ keys, iron: { password: IRON_PASSWORD, cookieName: 'old_iron' } });
    const s = await sealed.load(`old_iron=${seal}`);
    expect(s.user).toBe('bob');
    expect(s.setCookieHeaders).toContainEqual(expect.stringMatching(/^old_iron=; Max-Age=0; Path=\//));
    expect(s.setCookieHeaders).toContainEqual(expect.stringMatching(/^__Host-session=v1\.k1\./));
  });

  it('with revocation configured the migration is one-time: a replayed iron cookie mints nothing', async () => {
    const seal = await sealData({ user: 'carol' }, { password: IRON_PASSWORD, ttl: 0 });
    const revocation = new Revocation({ store: new MemoryStore() });
    const sealed = createSealedSessions<{ user?: string }>({ keys, revocation, iron: { password: IRON_PASSWORD, cookieName: 'old_iron' } });
    expect((await sealed.load(`old_iron=${seal}`)).user).toBe('carol');
    // the same old cookie again (a stolen copy, or after logout): not migrated twice
    expect((await sealed.load(`old_iron=${seal}`)).user).toBeUndefined();
  });

  it('without iron configured, an iron cookie is just an invalid cookie', async () => {
    const seal = await sealData({ user: 'bob' }, { password: IRON_PASSWORD });
    const sealed = createSealedSessions<{ user?: string }>({ keys, cookieName: 'app_session', insecureDevelopmentCookies: true });
    expect((await sealed.load(`app_session=${seal}`)).user).toBeUndefined();
  });
});
