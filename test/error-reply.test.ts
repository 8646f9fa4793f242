import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { errorReply, replyResponse, sendReply } from '../src/lib/error-reply.js';
import { ThrottledError, StoreUnavailableError } from '../src/errors.js';
import { CsrfError, guardNodeRequest, csrfForbiddenResponse } from '../src/csrf/index.js';
import { SessionManager, MemoryStore } from '../src/index.js';
import { sessionMiddleware } from '../src/adapters/hono.js';
import { nextSessions } from '../src/adapters/next.js';
import { fastifySessionward } from '../src/adapters/fastify.js';
import { SECRET } from './helpers/core.js';

const throttled = new ThrottledError('slow down: 3 attempts from 203.0.113.7', [
  ['retry-after', '30'],
  ['set-cookie', '__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax'],
  ['set-cookie', 'legacy=; Max-Age=0; Path=/'],
]);

/** Status, the headers that matter and the body of a reply, as a client sees them. */
async function seen(r: Response): Promise<unknown> {
  return {
    status: r.status,
    // Fastify adds its charset to any JSON string it sends.
    type: r.headers.get('content-type')?.replace(/; charset=utf-8$/i, ''),
    cache: r.headers.get('cache-control'),
    retry: r.headers.get('retry-after'),
    cookies: r.headers.getSetCookie(),
    body: await r.text(),
  };
}

async function viaNode(write: (res: http.ServerResponse) => void | Promise<void>): Promise<Response> {
  const server = http.createServer((_req, res) => void write(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', headers: { origin: 'https://evil.example' } }).then(async (r) => new Response(await r.text(), r));
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('one path from a typed error to a response', () => {
  it('the reply carries status, stable code, no-store and the error\'s own headers, never the message', async () => {
    const r = errorReply(throttled)!;
    expect(r.status).toBe(429);
    expect(r.body).toBe('{"error":"ERR_THROTTLED"}');
    expect(r.body).not.toContain('203.0.113.7');
    expect(errorReply(new Error('not ours'))).toBeNull();
    expect(errorReply('a string')).toBeNull();
  });

  it('Web and node:http write the same reply the same way (repeated Set-Cookie kept)', async () => {
    const web = await seen(replyResponse(errorReply(throttled)!));
    const node = await seen(await viaNode((res) => sendReply(res, errorReply(throttled)!)));
    expect(node).toEqual(web);
    expect(web).toMatchObject({ status: 429, cache: 'no-store', retry: '30', body: '{"error":"ERR_THROTTLED"}' });
    expect((web as { cookies: string[] }).cookies).toHaveLength(2);
  });

  it('a CSRF refusal is a CsrfError reply on every platform: hono, next, fastify, node guard, Web helper', async () => {
    const expected = await seen(replyResponse(errorReply(new CsrfError())!));
    const manager = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET] });
    const csrf = { origin: 'https://app.example.com' };
    const cross = { method: 'POST', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } };

    const hono = new Hono();
    hono.use(sessionMiddleware(manager, { csrf }));
    hono.post('/', (c) => c.text('done'));
    const next = nextSessions(manager, { csrf }).route(async () => new Response('done'));
    const fastify = Fastify();
    await fastify.register(fastifySessionward, { manager, csrf });
    fastify.post('/', async () => 'done');
    const fy = await fastify.inject({ method: 'POST', url: '/', headers: cross.headers });
    await fastify.close();

    const answers = {
      hono: await hono.request('/', cross),
      next: await next(new Request('https://app.example.com/', cross), undefined),
      fastify: new Response(fy.body, { status: fy.statusCode, headers: fy.headers as Record<string, string> }),
      node: await viaNode(async (res) => void (await guardNodeRequest({ method: 'POST', headers: cross.headers }, res, null, csrf))),
      web: csrfForbiddenResponse(),
    };
    for (const [platform, r] of Object.entries(answers)) {
      expect({ platform, vary: r.headers.get('vary') ?? '' }).toMatchObject({ platform, vary: expect.stringMatching(/Sec-Fetch-Site/) });
      expect({ platform, ...(await seen(r) as object) }).toEqual({ platform, ...(expected as object) });
    }
  });

  it('a store failure while loading answers 503 with the same reply through hono and next', async () => {
    const down = new MemoryStore();
    down.get = async () => { throw new StoreUnavailableError(); };
    const manager = new SessionManager<any>({ store: down, secrets: [SECRET] });
    const hono = new Hono();
    hono.use(sessionMiddleware(manager));
    hono.get('/', (c) => c.text('never'));
    const next = nextSessions(manager).route(async () => new Response('never'));
    // A well-formed cookie, so the load reaches the (failing) store.
    const issuer = new SessionManager<any>({ store: new MemoryStore(), secrets: [SECRET] });
    const s = await issuer.load({});
    await s.login('u');
    const token = (await issuer.commit(s)).headers.find(([k]) => k === 'set-cookie')![1].split(';')[0]!;
    const expected = await seen(replyResponse(errorReply(new StoreUnavailableError())!));
    expect(await seen(await hono.request('/', { headers: { cookie: token } }))).toEqual(expected);
    expect(await seen(await next(new Request('https://app.example.com/', { headers: { cookie: token } }), undefined))).toEqual(expected);
  });
});
