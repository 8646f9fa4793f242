/**
 * Express with sessionward's express-session-compatible middleware.
 *
 *   npm i sessionward express
 *   export SESSION_KEY=$(npx sessionward keygen --kind session)
 *   npx tsx express.ts            # then open http://localhost:3000 and reload
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { session } from 'sessionward/express';
import { SqliteStore } from 'sessionward/stores/sqlite';

// Types req.session.views (keys you do not declare are `any`, as with express-session).
declare module 'sessionward/express' {
  interface SessionData {
    views?: number;
  }
}

const app = express();
app.use(
  session({
    secret: process.env.SESSION_KEY!, // a missing or short key stops the app here, with what to do
    store: new SqliteStore(), // ./data/sessions.db; nothing to compile on Node >= 22.13
  }),
);

app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.json({ views: req.session.views });
});

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
