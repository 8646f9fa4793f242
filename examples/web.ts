/**
 * A Web `Request` -> `Response` handler: the shape Bun, Deno and Cloudflare Workers serve.
 * `sessionward/web` loads no Node built-in (WebCrypto only).
 *
 *   npm i sessionward @hono/node-server       # @hono/node-server: only to serve it on Node
 *   export SESSION_KEY=$(npx sessionward keygen --kind session)
 *   npx tsx web.ts                # Node; or: bun web.ts, deno serve --allow-env web.ts
 */
import { MemoryStore, SessionManager, withSession } from 'sessionward/web';

// One process keeps its sessions in memory; with several instances use a shared store (Redis).
const manager = new SessionManager<{ views?: number }>({
  store: new MemoryStore(),
  secrets: [process.env.SESSION_KEY!],
});

const handler = withSession(manager, async (_request, session) => {
  session.set('views', (session.get('views') ?? 0) + 1);
  return Response.json({ views: session.get('views') });
});

export default { fetch: handler }; // Bun and `deno serve` serve this export themselves

if (!('Bun' in globalThis) && !('Deno' in globalThis)) {
  const { serve } = await import('@hono/node-server');
  serve({ fetch: handler, port: Number(process.env.PORT ?? 3000), hostname: 'localhost' }, (info) => {
    console.log(`listening on http://localhost:${info.port}`);
  });
}
