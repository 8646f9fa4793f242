/**
 * The store bridge: what `req.session` (plain properties) means for the core session behind it.
 * The view's data is synced into the core session, a change of the user it names becomes a login
 * or logout (SEC-15), `regenerate()` a new token, and the end of the response one serialised
 * commit of every session this request touched.
 */
import { AUTH_KEY, type Session } from '../../core/session.js';
import { internal, type Req, type State } from './state.js';

/** Write the view's properties into the core session's data in place (key order kept, cheap diff). */
export function syncInto(view: object, core: Session<any>): void {
  const d = core.data as Record<string, unknown>;
  const v = view as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!k.startsWith('__sw') && !Object.prototype.hasOwnProperty.call(v, k)) delete d[k];
  for (const k of Object.keys(v)) if (!internal(k) && d[k] !== v[k]) d[k] = v[k];
}

/** Apply regenerate/login/logout semantics, then sync the view's data into the core session. */
export async function reconcile<D extends Record<string, unknown>>(st: State<D>): Promise<void> {
  const view = st.view;
  if (!view || st.core.destroyed) return;
  const data = view as Record<string, any>;
  const uid = st.userIdOf(data);
  if (st.regenerated || uid !== st.lastUid) {
    // regenerate() by the user already signed in proves no credential: a new token, but the
    // authentication time and absolute deadline stay (issue 9 finding 3). Only a change of user
    // is a login; for a real step-up call coreSession(req).login() after checking the password.
    const sameUser = uid !== null && uid === st.lastUid && st.core.userId === uid;
    st.regenerated = false;
    st.lastUid = uid;
    if (sameUser) {
      const d = st.core.data as Record<string, unknown>;
      for (const k of Object.keys(d)) if (k !== AUTH_KEY) delete d[k];
      syncInto(view, st.core);
      await st.core.rotate();
    } else if (uid !== null) {
      // Login (or a different user): a new token, timers restarted, only the view's data kept (SEC-15).
      const keep = Object.keys(data).filter((k) => !internal(k));
      const d = st.core.data as Record<string, unknown>;
      for (const k of Object.keys(d)) if (k !== AUTH_KEY) delete d[k];
      syncInto(view, st.core);
      // A migrated sign-in proves nothing now: no auth time, the old deadline (issue 20 finding 5).
      const carried = st.legacyUntil;
      st.legacyUntil = undefined;
      await st.core.login(uid, carried === undefined ? { keep } : { keep, carriedOverUntil: carried });
    } else if (st.core.record) {
      // Regenerate without a user, or logout: the old record goes, a fresh session takes its place.
      await st.core.destroy();
      st.retired.push(st.core);
      // Without the old cookie: it names the session just ended (no spurious unknown-token event).
      st.core = await st.manager.load({ ...st.info, cookie: undefined });
    } else {
      const d = st.core.data as Record<string, unknown>;
      for (const k of Object.keys(d)) delete d[k];
    }
  }
  syncInto(view, st.core);
}

/**
 * What `regenerate()` means, done at once when no user change is pending (the view is empty, so
 * the commit would decide the same): the same user gets a new token with its authentication time
 * and absolute deadline kept (issue 9 finding 3); an anonymous session is ended and a fresh one
 * takes its place. A user named or removed afterwards still logs in or out at commit.
 */
export async function regenerateNow<D extends Record<string, unknown>>(st: State<D>): Promise<void> {
  const core = st.core;
  if (!st.regenerated || core.destroyed || core.userId !== st.lastUid) return;
  st.regenerated = false;
  const d = core.data as Record<string, unknown>;
  if (st.lastUid !== null) {
    for (const k of Object.keys(d)) if (k !== AUTH_KEY) delete d[k];
    await core.rotate();
  } else if (core.record) {
    await core.destroy();
    st.retired.push(core);
    st.core = await st.manager.load({ ...st.info, cookie: undefined });
  } else {
    for (const k of Object.keys(d)) delete d[k];
  }
}

/**
 * True when the end of this response has nothing to commit: no login, logout, regenerate,
 * migration or pending save, the view's data equal to the stored data, and nothing the core
 * would write or send (checked synchronously, so the response need not wait for a commit).
 */
export function idle<D extends Record<string, unknown>>(st: State<D>): boolean {
  const view = st.view;
  if (view === null || st.chain !== undefined || st.regenerated || st.expireNow || st.retired.length !== 0) return false;
  if (st.legacy !== null && (st.legacyId !== null || st.legacyClear)) return false;
  if (st.req.session == null) return false;
  const core = st.core;
  if (core.destroyed || st.userIdOf(view as Record<string, any>) !== st.lastUid) return false;
  const f = st.flags;
  if ((f.saveUninitialized && core.isNew) || (f.resave && !core.isNew) || (f.rolling && core.token)) return false;
  syncInto(view, core);
  return !st.manager.needsCommit(core);
}

/**
 * Everything the response needs: reconcile, commit retired + current sessions, finish a migration.
 * Serialised per request, so a `save()` still in flight and the end of the response never commit
 * the same session twice at once.
 */
export function finalize<D extends Record<string, unknown>>(st: State<D>, req: Req): Promise<Array<[string, string]>> {
  const prev = st.chain;
  const run = prev ? prev.then(() => finalizeNow(st, req), () => finalizeNow(st, req)) : finalizeNow(st, req);
  st.chain = run;
  return run;
}

async function finalizeNow<D extends Record<string, unknown>>(st: State<D>, req: Req): Promise<Array<[string, string]>> {
  const headers: Array<[string, string]> = [];
  if (req.session == null && st.view !== null && !st.core.destroyed) {
    // `req.session = null`: express-session's `unset` option decides.
    if (st.unsetDestroy) await st.core.destroy();
    st.view = null;
  }
  if (st.expireNow && !st.core.destroyed) {
    // cookie.maxAge = 0 / a past expires: express-session sends an expired cookie, so the browser
    // forgets the session; ending it on the server as well leaves nothing behind.
    st.expireNow = false;
    await st.core.destroy();
    st.view = null;
  }
  await reconcile(st);
  const core = st.core;
  if (!core.destroyed && st.flags.resave && !core.isNew) core.touch();
  const commitOpts = core.destroyed ? {} : { saveEmpty: st.flags.saveUninitialized && core.isNew, reissueCookie: st.flags.rolling };
  try {
    for (const r of st.retired.splice(0)) headers.push(...(await st.manager.commit(r)).headers);
    headers.push(...(await st.manager.commit(st.core, commitOpts)).headers);
  } catch (err) {
    await releaseLegacy(st);
    throw err;
  }
  req.sessionID = st.core.destroyed ? undefined : (st.core.id ?? undefined);
  if (st.legacy && (st.legacyId !== null || st.legacyClear)) {
    // Only after the new session is safely stored: a failure above keeps the old one usable.
    if (st.legacyId !== null) await st.legacy.remove(st.legacyId);
    headers.push(['set-cookie', st.legacy.clearCookie]);
    st.legacyId = null;
    st.legacyClaimed = false;
    st.legacyClear = false;
  }
  return headers;
}

/** The migrated session was not stored: give the claim back, so the old cookie still works next time. */
export async function releaseLegacy(st: State<any>): Promise<void> {
  if (!st.legacy || !st.legacyClaimed || st.legacyId === null) return;
  st.legacyClaimed = false;
  await st.legacy.release(st.legacyId).catch(() => undefined);
}
