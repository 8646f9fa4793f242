/**
 * First contact of an express-session cookie (legacy.ts reads and verifies it): before the handler
 * runs, the old session is claimed, its data copied into a new sessionward session and its user
 * logged in, so the handler already sees the upgraded session. The old entry is deleted and its
 * cookie cleared only once the new session is committed (bridge.ts).
 */
import { cookieValue } from '../../cookie/index.js';
import { reconcile, releaseLegacy } from './bridge.js';
import type { Legacy } from './legacy.js';
import type { State } from './state.js';

/** Look for an old cookie when the request carries no sessionward one; claim and copy its session. */
export async function migrateOnLoad<D extends Record<string, unknown>>(st: State<D>, legacy: Legacy): Promise<void> {
  const name = st.manager.cookieName;
  if (cookieValue(st.info.cookie, name) !== undefined) return;
  const hit = await legacy.read(st.req.headers.cookie);
  if (hit === 'invalid' || (hit !== null && hit.data === null)) {
    st.legacyClear = true;
    if (hit !== 'invalid') st.legacyId = hit.id;
  } else if (hit !== null && (await legacy.claim(hit))) {
    // Claimed before the handler runs: a concurrent replay of the same old cookie finds the
    // claim taken and stays anonymous (its cookie is left for the winner's response to clear).
    st.legacyClear = true;
    st.legacyId = hit.id;
    st.legacyClaimed = true;
    st.legacyUntil = hit.notAfter;
    const core = await st.manager.load({ ...st.info, cookie: undefined });
    Object.assign(core.data, hit.data);
    st.core = core;
  }
}

/** Log a migrated user in now (the view is hydrated with the old data); the claim goes back on failure. */
export async function loginMigrated<D extends Record<string, unknown>>(st: State<D>): Promise<void> {
  try {
    await reconcile(st);
    // Only the sign-in the old cookie carried is a carried-over one: a login by the handler is real.
    st.legacyUntil = undefined;
  } catch (err) {
    await releaseLegacy(st);
    throw err;
  }
}
