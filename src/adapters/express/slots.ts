/**
 * Where a request's sessionward State lives, and how `req.session` / `req.sessionID` reach it
 * without adding properties to `req`. Express gives every request a new prototype (its
 * `app.request`), and V8 then makes a new hidden class for each property added to that request:
 * about 3 µs and a burst of garbage per property, measured (issue 22) — three of them cost more
 * than the rest of a session read. So on Express, `session` and `sessionID` are accessors on
 * Express's own request prototype (the one every app's `app.request`, sub-apps' included, inherits
 * from), installed once, reading this request's State from a WeakMap.
 *
 * Requests without a sessionward State keep plain semantics: an assignment by anyone else (another
 * session middleware in another app) becomes an ordinary own property, which shadows the accessor
 * and can be deleted. On a sessionward request, `req.session = null` unsets the session as before;
 * `delete req.session` cannot be seen by an accessor and is ignored (express-session apps use
 * `req.session = null`, and `req.session.destroy()`, which works).
 */
import { IncomingMessage } from 'node:http';
import type { Req, State } from './state.js';

const STATES = new WeakMap<object, State<any>>();
/** Per request prototype: whether the accessors are in place above it. */
const READY = new WeakMap<object, boolean>();
const INSTALLED = Symbol('sessionward.express.slots');

/** This request's State, if the session middleware has run. */
export function stateOf<D extends Record<string, unknown>>(req: object): State<D> | undefined {
  return STATES.get(req) as State<D> | undefined;
}

/**
 * Bind `st` to `req` and set `req.session` / `req.sessionID` (through the accessors on Express,
 * as own properties elsewhere).
 */
export function attach(req: Req, st: State<any>, session: object, sessionID: string | undefined): void {
  STATES.set(req, st);
  const proto = Object.getPrototypeOf(req) as object;
  let ready = READY.get(proto);
  if (ready === undefined) {
    ready = install(proto);
    READY.set(proto, ready);
  }
  if (ready && !Object.prototype.hasOwnProperty.call(req, 'session') && !Object.prototype.hasOwnProperty.call(req, 'sessionID')) {
    st.slots = { session, sessionID };
    return;
  }
  req.sessionID = sessionID;
  req.session = session;
}

/**
 * Put the accessors on Express's request prototype — the one every app's `app.request` inherits
 * from, recognised by its own `get` and `accepts` — once; false when `proto` is not
 * Express's (plain node:http, another framework).
 */
function install(proto: object): boolean {
  let base: object | null = proto;
  while (base !== null && base !== IncomingMessage.prototype && !(Object.prototype.hasOwnProperty.call(base, 'get') && Object.prototype.hasOwnProperty.call(base, 'accepts'))) {
    base = Object.getPrototypeOf(base) as object | null;
  }
  if (base === null || base === IncomingMessage.prototype) return false;
  if (Object.prototype.hasOwnProperty.call(base, INSTALLED)) return true;
  // Someone else's accessors already there (another copy of sessionward): leave them, use own properties.
  if (Object.prototype.hasOwnProperty.call(base, 'session') || Object.prototype.hasOwnProperty.call(base, 'sessionID')) return false;
  for (const key of ['session', 'sessionID'] as const) {
    Object.defineProperty(base, key, {
      configurable: true,
      enumerable: false,
      get(this: object): unknown {
        const slots = STATES.get(this)?.slots;
        return slots ? slots[key] : undefined;
      },
      set(this: object, value: unknown) {
        const slots = STATES.get(this)?.slots;
        if (slots) (slots as Record<string, unknown>)[key] = value;
        else Object.defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true });
      },
    });
  }
  Object.defineProperty(base, INSTALLED, { value: true });
  return true;
}
