/**
 * Fastify with the sessionward plugin.
 *
 *   npm i sessionward fastify
 *   export SESSION_KEY=$(npx sessionward keygen --kind session)
 *   npx tsx fastify.ts            # then open http://localhost:3000 and reload
 */
import Fastify from 'fastify';
import { SessionManager } from 'sessionward';
import { fastifySessionward, sessionOf } from 'sessionward/fastify';
import { SqliteStore } from 'sessionward/stores/sqlite';

const manager = new SessionManager<{ views?: number }>({
  store: new SqliteStore(), // ./data/sessions.db
  secrets: [process.env.SESSION_KEY!], // newest first; a missing or short key throws here
});

const app = Fastify();
// CSRF checks on unsafe methods: requests from other origins than this one are refused.
await app.register(fastifySessionward, { manager, csrf: { origin: process.env.ORIGIN ?? 'http://localhost:3000' } });

app.get('/', async (request) => {
  const session = sessionOf(request, manager); // typed by the manager: get('views') is number | undefined
  session.set('views', (session.get('views') ?? 0) + 1);
  return { views: session.get('views') };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: 'localhost' });
console.log(`listening on ${address}`);
