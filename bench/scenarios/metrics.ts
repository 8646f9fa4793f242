/**
 * What monitoring costs (issue 16): node:http + sessionward on the MemoryStore for an authenticated
 * read, plain beside the same server with Prometheus metrics on the event stream and every store
 * call timed by `instrumentStore`. Goal: the instrumented server keeps >= 0.97 of the plain one's
 * requests per CPU-second. A third server has the manager's `logger` option (pino, production
 * mode, writing to a discarding stream): what the option costs a read.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import * as prom from 'prom-client';
import { MemoryStore } from '../../src/index.js';
import { instrumentStore, prometheusMetrics } from '../../src/metrics/index.js';
import { close, compare, listen, measureHttp } from '../lib/http.js';
import { loginCookie, sessionServer } from '../lib/session-server.js';
import type { Scenario } from '../lib/types.js';

const scenario: Scenario = async (ctx) => {
  if (!ctx.wants('http-read-memory-metrics')) return;
  const metrics = prometheusMetrics(prom);
  const plain = sessionServer(new MemoryStore(), ctx.log);
  const watched = sessionServer(instrumentStore(new MemoryStore(), { metrics, onEvent: metrics.onEvent }), ctx.log, () => {}, { onEvent: metrics.onEvent });
  const discard = new Writable({ write: (_c, _e, cb) => cb() });
  const logged = sessionServer(new MemoryStore(), ctx.log, () => {}, { logger: pino({ level: 'info' }, discard), logMode: 'production' });
  const plainUrl = await listen(plain);
  const watchedUrl = await listen(watched);
  const loggedUrl = await listen(logged);
  try {
    const load = { duration: ctx.duration, connections: ctx.connections };
    const a = await loginCookie(plainUrl);
    const b = await loginCookie(watchedUrl);
    const c = await loginCookie(loggedUrl);
    await compare(
      ctx,
      'http-read-memory-metrics',
      {
        sessionward: (duration) => measureHttp(`${plainUrl}/read`, { ...load, duration, headers: { cookie: a } }),
        'sessionward+metrics': (duration) => measureHttp(`${watchedUrl}/read`, { ...load, duration, headers: { cookie: b } }),
        'sessionward+logger': (duration) => measureHttp(`${loggedUrl}/read`, { ...load, duration, headers: { cookie: c } }),
      },
      { baseline: 'sessionward' },
    );
  } finally {
    await close(plain);
    await close(watched);
    await close(logged);
  }
};

export default scenario;
