import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerSink, type LoggerLike } from '../src/monitor/logger.js';
import { fanOut } from '../src/monitor/events.js';
import { checkCsrf, emitCsrfEvent } from '../src/csrf/index.js';
import { setup, nextCookie } from './helpers/core.js';

/** A pino-shaped logger writing JSON lines into an array (pino's own line shape: level, msg, fields). */
function jsonLogger(lines: Array<Record<string, unknown>>, bindings: object = {}): LoggerLike {
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, ...bindings, ...obj, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => jsonLogger(lines, { ...bindings, ...b }) };
}

describe('logger sink', () => {
  it('development: a CSRF refusal explains which check failed and what to change', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const guard = { origin: 'https://app.example', onEvent: loggerSink(jsonLogger(lines), { mode: 'development' }) };
    const reason = checkCsrf({ method: 'POST', headers: { origin: 'https://evil.example' } }, null, guard);
    expect(reason).toBe('origin-mismatch');
    await emitCsrfEvent(guard, reason!, 'POST', { ip: '192.0.2.9' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', lib: 'sessionward', type: 'csrf.rejected', reason: 'origin-mismatch', ip: '192.0.2.9' });
    expect(String(lines[0]!.msg)).toMatch(/Origin .* header names a different origin/);
  });

  it('SEC-41: production lines hold codes and hashes only, never a token, address or explanation', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = loggerSink(jsonLogger(lines), { mode: 'production' });
    const { manager } = setup({ onEvent: fanOut(sink) });
    const s = await manager.load({ ip: '198.51.100.4', userAgent: 'UA' });
    await s.login('carol');
    const cookie = nextCookie((await manager.commit(s)).headers);
    await manager.load({ cookie: `${cookie}x`, ip: '198.51.100.4' });
    const dump = JSON.stringify(lines);
    expect(dump).not.toContain(cookie.split('=')[1]!.split('.')[0]);
    expect(dump).not.toContain('198.51.100.4');
    const invalid = lines.find((l) => l.type === 'token.invalid')!;
    expect(invalid).toMatchObject({ level: 'warn', msg: 'token.invalid' });
    const rotated = lines.find((l) => l.type === 'session.rotated')!;
    expect(rotated.level).toBe('debug');
    expect(rotated.newSid).toMatch(/^[\w-]{22}$/);
  });

  it('works with pino itself, and a throwing logger never breaks the emitter', async () => {
    const out: string[] = [];
    const stream = new Writable({ write(c, _e, cb) { out.push(String(c)); cb(); } });
    loggerSink(pino({ level: 'debug' }, stream), { mode: 'development' })({ type: 'store.error', at: new Date().toISOString(), store: 'redis', op: 'get', code: 'ERR_STORE_UNAVAILABLE', ms: 3 });
    expect(JSON.parse(out[0]!)).toMatchObject({ level: 50, lib: 'sessionward', type: 'store.error', code: 'ERR_STORE_UNAVAILABLE' });
    const boom = () => { throw new Error('disk full'); };
    const sink = loggerSink({ debug: boom, info: boom, warn: boom, error: boom });
    expect(() => sink({ type: 'token.unknown', at: new Date().toISOString() })).not.toThrow();
  });
});
