/**
 * Plain node:http: load the session, change it, commit it before writing the body.
 *
 *   npm i sessionward
 *   export SESSION_KEY=$(npx sessionward keygen --kind session)
 *   npx tsx node-http.ts          # then open http://localhost:3000 and reload
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionManager } from 'sessionward';
import { nodeSessions, sendError } from 'sessionward/node';
import { SqliteStore } from 'sessionward/stores/sqlite';

const manager = new SessionManager<{ views?: number }>({
  store: new SqliteStore(), // ./data/sessions.db
  secrets: [process.env.SESSION_KEY!],
});
const sessions = nodeSessions(manager);

const server = http.createServer(async (req, res) => {
  try {
    const session = await sessions.load(req);
    session.set('views', (session.get('views') ?? 0) + 1);
    await sessions.commit(session, res); // sets the cookie: before the body
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ views: session.get('views') }));
  } catch (err) {
    // Typed errors (a store that is down: 503) become their status and code, never a stack.
    if (!sendError(res, err)) {
      res.statusCode = 500;
      res.end();
    }
  }
});

server.listen(Number(process.env.PORT ?? 3000), 'localhost', () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
