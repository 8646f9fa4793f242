/**
 * `req.session`: express-session's Session API over a core session. Data keys are plain
 * properties beside the methods (`regenerate`, `destroy`, `reload`, `save`, `touch`, `$update`,
 * `id`, `cookie`); what they mean for the store is the bridge's (bridge.ts).
 */
import { InvalidInputError } from '../../errors.js';
import { setSessionHeaders } from '../node-http/headers.js';
import { finalize, reconcile, regenerateNow } from './bridge.js';
import { clearView, hydrate, type Req, type State } from './state.js';

/** The methods and metadata of `req.session`; data keys sit beside them as plain properties. */
export interface ExpressSessionMethods {
  /**
   * Store id of the session (a hash of the token); '' until the session is first saved, and while
   * a login or logout is pending in this request (its new id is known after `save()`).
   */
  readonly id: string;
  /** Description of the session cookie (read-only: configure cookies on the middleware). */
  readonly cookie: Readonly<{ path: string; httpOnly: true; secure: boolean; sameSite: string; domain?: string; maxAge: number | null; originalMaxAge: number | null; expires: Date | null }>;
  regenerate(cb: (err?: unknown) => void): this;
  destroy(cb?: (err?: unknown) => void): this;
  reload(cb: (err?: unknown) => void): this;
  save(cb?: (err?: unknown) => void): this;
  touch(): this;
  resetMaxAge(): this;
  /**
   * Atomic read-modify-write (the core's `update`): `fn` runs on the latest stored data and is
   * re-run if another request won the race. Use it for counters.
   */
  $update(fn: (data: Record<string, any>) => void): Promise<void>;
}

/** `req.session` under sessionward. */
export type ExpressSession<D extends Record<string, unknown> = Record<string, any>> = ExpressSessionMethods & Partial<D> & Record<string, any>;

/** Settle an express-session style callback (optional: errors without one are dropped, as there). */
function cb(fn: ((err?: unknown) => void) | undefined, p: Promise<void>): void {
  p.then(() => fn?.(), (err) => (fn ? fn(err) : undefined));
}

/** `req.session.cookie`: express-session's Cookie as data, with maxAge/expires writable per session. */
function cookieView(st: State<any>): ExpressSessionMethods['cookie'] {
  const o = st.manager.options;
  const maxAge = st.core.cookieMaxAge;
  const expires = maxAge === null ? null : new Date(o.clock() + maxAge);
  const c = {
    path: o.cookieAttrs.path,
    httpOnly: true as const,
    secure: o.cookieAttrs.secure,
    sameSite: o.cookieAttrs.sameSite,
    ...(o.cookieAttrs.domain ? { domain: o.cookieAttrs.domain } : {}),
    ...(o.cookieAttrs.partitioned ? { partitioned: true } : {}),
    ...(o.cookieAttrs.priority ? { priority: o.cookieAttrs.priority } : {}),
    originalMaxAge: maxAge,
    maxAge,
    expires,
  };
  // JSON.stringify(req.session) shows the cookie as express-session's does (no live maxAge).
  Object.defineProperty(c, 'toJSON', { value: () => ({ ...c, maxAge: undefined, expires: expires?.toISOString() ?? null }) });
  /** A new lifetime in ms (null: browser-session cookie); 0 or less ends the session at commit. */
  const lifetime = (ms: number | null): void => {
    if (ms !== null && !(ms > 0)) {
      st.expireNow = true;
      return;
    }
    // Re-assigning the same lifetime on every request (a common "remember me" idiom) changes
    // nothing, so it must not rewrite the session or re-send the cookie; for `expires`, computed
    // from the clock, a second is "the same".
    const cur = st.core.cookieMaxAge;
    if (ms === cur || (ms !== null && cur !== null && Math.abs(ms - cur) < 1000)) return;
    st.core.setCookieMaxAge(ms);
  };
  // Not frozen: a Proxy may not report a successful set on a frozen target's property.
  return new Proxy(c, {
    set(_t, prop, value) {
      // "Remember me": express-session apps set cookie.maxAge (or expires) per session.
      if (prop === 'maxAge' || prop === 'originalMaxAge') {
        if (value === null || value === undefined || value === false) lifetime(null);
        // As express-session's Cookie: a lifetime is a number of ms; anything else is a bug to
        // report, not a reason to end (NaN) or keep the session silently.
        else if (typeof value === 'number' && !Number.isNaN(value)) lifetime(value);
        else throw new InvalidInputError(`req.session.cookie.${prop} must be a number of milliseconds or null`);
        return true;
      }
      if (prop === 'expires') {
        if (value === null || value === undefined || value === false) lifetime(null);
        else if (value instanceof Date && !Number.isNaN(value.getTime())) lifetime(value.getTime() - o.clock());
        else throw new InvalidInputError('req.session.cookie.expires must be a Date or null');
        return true;
      }
      // Security attributes are the middleware's, not a request's: a silent no-op would hide it.
      throw new InvalidInputError(`req.session.cookie.${String(prop)} is set on the session middleware, not per request`);
    },
  });
}

/**
 * `req.session.cookie`: an own, enumerable property as in express-session (Object.keys and JSON
 * show it). One descriptor with one getter for every view: a fresh closure per request would give
 * each view its own hidden class, and every function touching `req.session` a megamorphic cache.
 */
const COOKIE: PropertyDescriptor = { enumerable: true, configurable: false };

export class View {
  readonly #st: State<any>;
  static {
    COOKIE.get = function cookie(this: View) {
      return cookieView(this.#st);
    };
  }
  constructor(st: State<any>) {
    this.#st = st;
    Object.defineProperty(this, 'cookie', COOKIE);
  }
  get id(): string {
    const st = this.#st;
    // A login or logout still pending in this request issues a new token at commit: the current
    // id is about to die, and the new one does not exist yet (read it in save()'s callback).
    if (st.regenerated || (st.view === this && st.userIdOf(this as Record<string, any>) !== st.lastUid)) return '';
    return st.core.id ?? '';
  }
  declare readonly cookie: ExpressSessionMethods['cookie'];
  regenerate(fn: (err?: unknown) => void): this {
    const st = this.#st;
    const req = this.#req();
    st.regenerated = true;
    st.view = new View(st);
    req.session = st.view;
    // The new token now, so req.session.id / req.sessionID name it at once, as in express-session
    // (issue 20 finding 6). Serialised with the commits of this request.
    const work = (): Promise<void> => regenerateNow(st).then(() => {
      req.sessionID = st.core.destroyed ? undefined : (st.core.id ?? undefined);
    });
    const run = st.chain ? st.chain.then(work, work) : work();
    st.chain = run;
    cb(fn, run);
    return this;
  }
  destroy(fn?: (err?: unknown) => void): this {
    const st = this.#st;
    cb(fn, (async () => {
      st.view = null;
      const req = this.#req();
      // An own property (not Express) is deleted as express-session does; the accessor (slots.ts) is emptied.
      if (Object.prototype.hasOwnProperty.call(req, 'session')) delete req.session;
      else req.session = undefined;
      await st.core.destroy();
    })());
    return this;
  }
  reload(fn: (err?: unknown) => void): this {
    const st = this.#st;
    cb(fn, (async () => {
      if (st.core.isNew) throw new Error('failed to load session');
      await st.core.reload();
      clearView(this);
      hydrate(this, st.core.data);
    })());
    return this;
  }
  save(fn?: (err?: unknown) => void): this {
    const st = this.#st;
    cb(fn, (async () => {
      const headers = await finalize(st, this.#req());
      // Set now unless the response has gone out (a later commit at its end sends them again).
      if (!st.res.headersSent) setSessionHeaders(st.res, headers);
    })());
    return this;
  }
  touch(): this {
    // As in express-session: renew the idle deadline at the end of this request.
    if (!this.#st.core.destroyed) this.#st.core.touch();
    return this;
  }
  resetMaxAge(): this {
    return this;
  }
  async $update(fn: (data: Record<string, any>) => void): Promise<void> {
    const st = this.#st;
    await reconcile(st);
    await st.core.update(fn as any);
    clearView(this);
    hydrate(this, st.core.data);
  }
  #req(): Req {
    return this.#st.req;
  }
}
