/**
 * The same behaviour suite (test/helpers/adapter-suite.ts) through every adapter, over real HTTP:
 * node:http, Express, Fastify, Hono (@hono/node-server) and the Web/Next.js helper (through
 * @hono/node-server's node-http -> Request bridge, since Next.js itself is not installed); the DBSC
 * endpoint suite also through the plain Web adapter (`withSession`, which has no CSRF guard).
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { nodeSessions, sendError } from '../src/adapters/node.js';
import { session as expressSession, csrfProtection, coreSession } from '../src/adapters/express/index.js';
import { fastifySessionward, sessionOf } from '../src/adapters/fastify.js';
import { sessionMiddleware, type SessionVariables } from '../src/adapters/hono.js';
import { nextSessions } from '../src/adapters/next.js';
import { guardNodeRequest } from '../src/csrf/index.js';
import { listen, close } from '../bench/lib/http.js';
import { runAdapterSuite as runBehaviourSuite, type AdapterUnderTest } from './helpers/adapter-suite.js';
import { runDbscAdapterSuite } from './helpers/dbsc-adapter-suite.js';
import { withSession } from '../src/adapters/web.js';

/** Both behaviour suites (sessions, and DBSC endpoints) for one adapter. */
function runAdapterSuite(adapter: AdapterUnderTest): void {
  runBehaviourSuite(adapter);
  runDbscAdapterSuite(adapter);
}

const served = (server: Server) => async () => ({ url: await listen(server), close: () => close(server) });

runAdapterSuite({
  name: 'node',
  async start(manager, csrf, onWrite) {
    const sessions = nodeSessions(manager);
    const server = createServer(async (req, res) => {
      try {
        if (await sessions.endpoint(req, res)) return;
        const session = await sessions.load(req);
        if (!(await guardNodeRequest(req, res, session, csrf, { sid: (id) => manager.sid(id) }))) return;
        const path = (req.url ?? '/').split('?')[0];
        let body: unknown = { ok: true };
        if (path === '/read') body = { n: session.get('n') ?? null, user: session.userId };
        else if (path === '/write') {
          onWrite(req.url ?? '');
          session.set('n', (session.get('n') ?? 0) + 1);
          body = { n: session.get('n') };
        } else if (path === '/login') await session.login('alice');
        else if (path === '/logout') await session.destroy();
        await sessions.commit(session, res);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      } catch (err) {
        if (!sendError(res, err)) {
          res.statusCode = 500;
          res.end();
        }
      }
    });
    return served(server)();
  },
});

runAdapterSuite({
  name: 'express',
  async start(manager, csrf, onWrite) {
    const app = express();
    app.use(expressSession({ manager }));
    app.use(csrfProtection(csrf));
    app.get('/read', (req: any, res) => res.json({ n: req.session.n ?? null, user: coreSession(req)?.userId ?? null }));
    app.post('/write', (req: any, res) => {
      onWrite(req.url);
      req.session.n = (req.session.n ?? 0) + 1;
      res.json({ n: req.session.n });
    });
    app.post('/login', (req: any, res, next) => {
      req.session.regenerate((err: unknown) => {
        if (err) return next(err);
        req.session.passport = { user: 'alice' };
        res.json({ ok: true });
      });
    });
    app.post('/logout', (req: any, res, next) => {
      req.session.destroy((err: unknown) => (err ? next(err) : res.json({ ok: true })));
    });
    return served(createServer(app))();
  },
});

runAdapterSuite({
  name: 'fastify',
  async start(manager, csrf, onWrite) {
    const app = Fastify();
    await app.register(fastifySessionward, { manager, csrf });
    app.get('/read', async (req) => ({ n: sessionOf(req).get('n') ?? null, user: sessionOf(req).userId }));
    app.post('/write', async (req) => {
      onWrite(req.url);
      const s = sessionOf(req);
      s.set('n', (s.get('n') ?? 0) + 1);
      return { n: s.get('n') };
    });
    app.post('/login', async (req) => {
      await sessionOf(req).login('alice');
      return { ok: true };
    });
    app.post('/logout', async (req) => {
      await sessionOf(req).destroy();
      return { ok: true };
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
});

runAdapterSuite({
  name: 'hono',
  async start(manager, csrf, onWrite) {
    const app = new Hono<{ Variables: SessionVariables }>();
    app.use(sessionMiddleware(manager, { csrf }));
    app.get('/read', (c) => c.json({ n: c.get('session').get('n') ?? null, user: c.get('session').userId }));
    app.post('/write', (c) => {
      onWrite(c.req.url);
      const s = c.get('session');
      s.set('n', (s.get('n') ?? 0) + 1);
      return c.json({ n: s.get('n') });
    });
    app.post('/login', async (c) => {
      await c.get('session').login('alice');
      return c.json({ ok: true });
    });
    app.post('/logout', async (c) => {
      await c.get('session').destroy();
      return c.json({ ok: true });
    });
    return served(createServer(getRequestListener(app.fetch)))();
  },
});

runAdapterSuite({
  name: 'web/next',
  async start(manager, csrf, onWrite) {
    const sessions = nextSessions(manager, { csrf });
    const handler = sessions.route(async (request, session) => {
      const path = new URL(request.url).pathname;
      if (path === '/read') return Response.json({ n: session.get('n') ?? null, user: session.userId });
      if (path === '/write') {
        onWrite(request.url);
        session.set('n', (session.get('n') ?? 0) + 1);
        return Response.json({ n: session.get('n') });
      }
      if (path === '/login') await session.login('alice');
      if (path === '/logout') await session.destroy();
      return Response.json({ ok: true });
    });
    return served(createServer(getRequestListener((req) => handler(req, {}))))();
  },
});

runDbscAdapterSuite({
  name: 'web',
  async start(manager) {
    const handler = withSession(manager, async (request, session) => {
      const path = new URL(request.url).pathname;
      if (path === '/read') return Response.json({ n: session.get('n') ?? null, user: session.userId });
      if (path === '/login') await session.login('alice');
      return Response.json({ ok: true });
    });
    return served(createServer(getRequestListener(handler)))();
  },
});
