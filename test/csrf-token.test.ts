import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { nodeSessions, sendError } from '../src/adapters/node.js';
import { getCsrfToken, verifyCsrfToken, rotateCsrfToken, guardNodeRequest, CSRF_KEY, type CsrfEvent } from '../src/csrf/index.js';
import { listen, close } from '../bench/lib/http.js';
import { setup, nextCookie } from './helpers/core.js';

describe('SEC-22: synchronizer token', () => {
  it('SEC-22: a token verifies on its own session; missing, foreign and tampered tokens fail', async () => {
    const { manager } = setup();
    const a = await manager.load({});
    const b = await manager.load({});
    const ta = getCsrfToken(a);
    const tb = getCsrfToken(b);
    expect(verifyCsrfToken(a, ta)).toBe(true);
    expect(verifyCsrfToken(b, tb)).toBe(true);
    // Token from session A used on session B.
    expect(verifyCsrfToken(b, ta)).toBe(false);
    expect(verifyCsrfToken(a, tb)).toBe(false);
    for (const bad of [undefined, null, '', 'x', ta.slice(1), ta + 'A', ta.toUpperCase(), '*'.repeat(86), '\r\n'.repeat(43)]) {
      expect(verifyCsrfToken(a, bad as string)).toBe(false);
    }
    // Flip every character once: every tamper is caught.
    for (let i = 0; i < ta.length; i++) {
      const c = ta[i] === 'A' ? 'B' : 'A';
      expect(verifyCsrfToken(a, ta.slice(0, i) + c + ta.slice(i + 1))).toBe(false);
    }
  });

  it('SEC-22: tokens are masked per call (BREACH) yet all verify; the secret is 256 bits', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    const t1 = getCsrfToken(s);
    const t2 = getCsrfToken(s);
    expect(t1).not.toBe(t2);
    expect(verifyCsrfToken(s, t1) && verifyCsrfToken(s, t2)).toBe(true);
    expect(Buffer.from(String(s.data[CSRF_KEY]), 'base64url')).toHaveLength(32);
    expect(t1).not.toContain(String(s.data[CSRF_KEY]));
  });

  it('SEC-22: a session without a secret verifies nothing; rotation invalidates old tokens', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    expect(verifyCsrfToken(s, 'A'.repeat(86))).toBe(false);
    const t = getCsrfToken(s);
    rotateCsrfToken(s);
    expect(verifyCsrfToken(s, t)).toBe(false);
    expect(verifyCsrfToken(s, getCsrfToken(s))).toBe(true);
  });

  it('SEC-22: the secret is created lazily and persisted with the session', async () => {
    const { manager } = setup();
    const s = await manager.load({});
    const t = getCsrfToken(s);
    const { headers } = await manager.commit(s);
    const again = await manager.load({ cookie: nextCookie(headers) });
    expect(verifyCsrfToken(again, t)).toBe(true);
  });
});

describe('SEC-22/SEC-26: over HTTP, with login CSRF', () => {
  it('SEC-26: the login form is protected by the anonymous session token; login drops it; failures are 403 with an event and never echo the token', async () => {
    const { manager } = setup();
    const sessions = nodeSessions(manager);
    const events: CsrfEvent[] = [];
    const guard = { origin: 'https://app.example.com', token: true, onEvent: (e: CsrfEvent) => events.push(e) };
    const server = createServer(async (req, res) => {
      try {
        const session = await sessions.load(req);
        if (!(await guardNodeRequest(req, res, session, guard, { sid: (id) => manager.sid(id) }))) return;
        let body: unknown = {};
        if (req.url === '/login-form') body = { csrf: getCsrfToken(session) };
        else if (req.url === '/login') {
          await session.login('alice');
          body = { user: session.userId, hasSecret: CSRF_KEY in session.data };
        } else if (req.url === '/me') body = { user: session.userId };
        await sessions.commit(session, res);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      } catch (err) {
        if (!sendError(res, err)) res.end();
      }
    });
    const url = await listen(server);
    try {
      const post = (cookie: string, token?: string, extra: Record<string, string> = {}) =>
        fetch(url + '/login', {
          method: 'POST',
          headers: { cookie, 'sec-fetch-site': 'same-origin', ...(token ? { 'x-csrf-token': token } : {}), ...extra },
        });
      // Victim and attacker each get an anonymous session with a token.
      const v = await fetch(url + '/login-form');
      const victim = v.headers.getSetCookie()[0]!.split(';')[0]!;
      const victimToken = ((await v.json()) as { csrf: string }).csrf;
      const a = await fetch(url + '/login-form');
      const attackerToken = ((await a.json()) as { csrf: string }).csrf;

      // Missing token, the attacker's own token, a tampered token: 403, with an event each.
      // Tamper in the middle, where every character carries 6 data bits (the last ones carry padding
      // bits, and replacing them with 'AA' left the token unchanged 1 run in 256).
      const tampered = victimToken.slice(0, 10) + (victimToken[10] === 'A' ? 'B' : 'A') + victimToken.slice(11);
      for (const t of [undefined, attackerToken, tampered]) {
        const r = await post(victim, t);
        expect(r.status).toBe(403);
        const text = await r.text();
        expect(text).toBe('{"error":"ERR_CSRF"}');
        expect(text).not.toContain(victimToken);
      }
      expect(events.filter((e) => e.reason === 'token-invalid')).toHaveLength(3);
      expect(events.every((e) => typeof e.sid === 'string' && !JSON.stringify(e).includes(victimToken))).toBe(true);
      // A cross-site login POST (the classic login-CSRF form) is refused before the token matters.
      expect((await post(victim, victimToken, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect(events.at(-1)?.reason).toBe('cross-site');

      const ok = await post(victim, victimToken);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ user: 'alice', hasSecret: false });
    } finally {
      await close(server);
    }
  });
});
