/**
 * Hono with the sessionward middleware, served on Node by @hono/node-server.
 *
 *   npm i sessionward hono @hono/node-server
 *   export SESSION_KEY=$(npx sessionward keygen --kind session)
 *   npx tsx hono.ts               # then open http://localhost:3000 and reload
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { SessionManager } from 'sessionward';
import { sessionMiddleware } from 'sessionward/hono';
import { SqliteStore } from 'sessionward/stores/sqlite';

const manager = new SessionManager<{ views?: number }>({
  store: new SqliteStore(), // ./data/sessions.db
  secrets: [process.env.SESSION_KEY!],
});

// Chained, so the app's type carries the middleware's: c.get('session') is Session<{ views?: number }>.
const app = new Hono().use(sessionMiddleware(manager, { csrf: { origin: process.env.ORIGIN ?? 'http://localhost:3000' } }));

app.get('/', (c) => {
  const session = c.get('session');
  session.set('views', (session.get('views') ?? 0) + 1);
  return c.json({ views: session.get('views') });
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: 'localhost' }, (info) => {
  console.log(`listening on http://localhost:${info.port}`);
});
