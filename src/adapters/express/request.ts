/**
 * Types `req.session` and `req.sessionID` on Express's Request wherever `sessionward/express` is
 * imported (TS2339 otherwise). Declare your own keys by merging into `SessionData`, as with
 * express-session:
 *
 * @example
 * declare module 'sessionward/express' {
 *   interface SessionData { views?: number }
 * }
 * app.get('/', (req, res) => { req.session.views = (req.session.views ?? 0) + 1 })  // number | undefined
 *
 * Keys you do not declare stay `any`, so code written for express-session compiles unchanged.
 * Do not keep `@types/express-session` installed beside it: both declare `req.session`.
 */
import type { ExpressSessionMethods } from './view.js';

/** Your session data: merge your keys in (`declare module 'sessionward/express'`). */
export interface SessionData {
  [key: string]: any;
}

declare global {
  // Express declares its Request as a global namespace for exactly this kind of merging.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The session (express-session's API); set by the `session()` middleware. */
      session: ExpressSessionMethods & Partial<SessionData>;
      /** Store id of the session; undefined until it is first saved. */
      sessionID: string | undefined;
    }
  }
}
