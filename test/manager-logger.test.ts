/**
 * The `logger` option of SessionManager: configuration warnings and refusals go through a
 * pino-compatible logger. In development a refusal says which check failed and what to change; in
 * production a line holds codes and keyed hashes only, never a token, cookie value or secret (SEC-41).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ConfigError, type SessionEvent } from '../src/index.js';
import { setup, nextCookie, SECRET } from './helpers/core.js';

/** Real pino, writing JSON lines into an array. */
function pinoLines(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const out: string[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      out.push(String(c));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>), raw: () => out.join('') };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SessionManager logger option', () => {
  it('a configuration warning goes to logger.warn with a stable code, not to the console', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { logger, lines } = pinoLines();
    setup({ logger, cookie: { insecureDevelopmentCookies: true } });
    expect(warn).not.toHaveBeenCalled();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: 40, lib: 'sessionward', type: 'config.warning', code: 'insecure_development_cookies' });
    expect(String(lines()[0]!.msg)).toMatch(/without Secure/);
    // Without a logger the console still gets it (the default is unchanged).
    setup({ cookie: { insecureDevelopmentCookies: true } });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('a configuration warning is also a config.warning event on onEvent, once, with its code', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { logger, lines } = pinoLines();
    const events: SessionEvent[] = [];
    setup({ logger, onEvent: (e) => void events.push(e), cookie: { insecureDevelopmentCookies: true } });
    expect(events.filter((e) => e.type === 'config.warning')).toEqual([expect.objectContaining({ type: 'config.warning', reason: 'insecure_development_cookies' })]);
    expect(lines()).toHaveLength(1); // the logger line is not doubled by the event
    // A throwing onEvent does not stop the manager from starting.
    expect(() => setup({ onEvent: () => { throw new Error('sink down'); }, cookie: { insecureDevelopmentCookies: true } })).not.toThrow();
  });

  it('development: a forged cookie and a throttled source explain themselves', async () => {
    const { logger, lines } = pinoLines();
    const { manager } = setup({ logger, logMode: 'development', invalidTokenLimit: { max: 2, windowMs: 60_000, action: 'throttle' } });
    const s = await manager.load({ ip: '198.51.100.4' });
    await s.login('carol');
    const cookie = nextCookie((await manager.commit(s)).headers);
    await manager.load({ cookie: `${cookie}x`, ip: '203.0.113.7' });
    await manager.load({ cookie: `${cookie}y`, ip: '203.0.113.7' }).catch(() => undefined);
    await expect(manager.load({ cookie: `${cookie}z`, ip: '203.0.113.7' })).rejects.toMatchObject({ code: 'ERR_THROTTLED' });
    const invalid = lines().find((l) => l.type === 'token.invalid')!;
    expect(invalid).toMatchObject({ level: 40, lib: 'sessionward' });
    expect(String(invalid.msg)).toMatch(/failed its MAC or was malformed.*secrets/);
    const alert = lines().find((l) => l.type === 'alert.invalid_tokens')!;
    expect(alert).toMatchObject({ level: 50, reason: 'throttle' });
    expect(String(alert.msg)).toMatch(/invalidTokenLimit/);
  });

  it('SEC-41: production lines carry codes and hashes, never the token, the secret or the address', async () => {
    const { logger, lines, raw } = pinoLines();
    const { manager } = setup({ logger, logMode: 'production' });
    const s = await manager.load({ ip: '198.51.100.4', userAgent: 'Firefox/1' });
    await s.login('carol');
    const cookie = nextCookie((await manager.commit(s)).headers);
    await manager.load({ cookie: `${cookie}x`, ip: '198.51.100.4' });
    const token = cookie.split('=')[1]!;
    const dump = raw();
    for (const secret of [token, token.split('.')[0]!, SECRET, '198.51.100.4', 'Firefox']) expect(dump).not.toContain(secret);
    const invalid = lines().find((l) => l.type === 'token.invalid')!;
    expect(invalid.msg).toBe('token.invalid');
    const created = lines().find((l) => l.type === 'session.created')!;
    expect(created.sid).toMatch(/^[\w-]{22}$/);
  });

  it('runs beside onEvent: both get every event, and a throwing logger breaks neither onEvent nor the request', async () => {
    const boom = () => {
      throw new Error('disk full');
    };
    const seen: SessionEvent[] = [];
    const { manager } = setup({ logger: { debug: boom, info: boom, warn: boom, error: boom }, onEvent: (e) => seen.push(e) });
    const s = await manager.load({});
    await s.login('dan');
    await expect(manager.commit(s)).resolves.toBeDefined();
    expect(seen.map((e) => e.type)).toContain('session.created');

    const { logger, lines } = pinoLines();
    const both: SessionEvent[] = [];
    const m2 = setup({ logger, logMode: 'production', onEvent: (e) => both.push(e) }).manager;
    const s2 = await m2.load({});
    await s2.login('eve');
    await m2.commit(s2);
    expect(both.map((e) => e.type)).toEqual(lines().map((l) => l.type));
  });

  it('a logger without the four levels is a ConfigError at construction', () => {
    expect(() => setup({ logger: { info: () => undefined } as never })).toThrow(ConfigError);
    expect(() => setup({ logger: 'pino' as never })).toThrow(ConfigError);
  });
});
