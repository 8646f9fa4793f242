/**
 * A Next.js App Router route handler: save as `app/api/visits/route.ts` in a Next.js app
 * (`npm i sessionward`, SESSION_KEY from `npx sessionward keygen --kind session` in `.env.local`).
 * It is a plain module exporting `GET`/`POST` (request, context) => Response: nothing here needs
 * Next's server, which is how test/examples.test.ts runs it.
 */
import { MemoryStore, SessionManager } from 'sessionward/web';
import { nextSessions } from 'sessionward/next';

// Memory is per server process; on serverless or several instances use RedisStore or PostgresStore.
const manager = new SessionManager<{ views?: number; items?: string[] }>({
  store: new MemoryStore(),
  secrets: [process.env.SESSION_KEY!],
});
const sessions = nextSessions(manager, { csrf: { origin: process.env.APP_ORIGIN ?? 'http://localhost:3000' } });

export const GET = sessions.route(async (_request, session) => {
  session.set('views', (session.get('views') ?? 0) + 1);
  return Response.json({ views: session.get('views') });
});

export const POST = sessions.route(async (_request, session) => {
  await session.update((d) => {
    d.items = [...(d.items ?? []), 'sku-1']; // atomic read-modify-write
  });
  return Response.json({ items: session.get('items') });
});
