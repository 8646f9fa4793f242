/**
 * @internal sessionward's own authentication state, kept in the session data under a reserved
 * key: a pending factor (SEC-17), the methods completed, the per-session cookie lifetime. Pure:
 * data in, data out; the Session decides when to rotate.
 */
import { put } from './storable.js';

/** Reserved data key holding sessionward's own auth state (pending second factor, methods). */
export const AUTH_KEY = '__sw';

export interface AuthState {
  /** A factor still to complete (e.g. 'mfa'); the session is half-authenticated until cleared (SEC-17). */
  pending?: string;
  /** Authentication methods completed, e.g. ['pwd', 'otp']. */
  amr?: string[];
  /** Per-session persistent-cookie lifetime in ms ("remember me"); overrides `cookie.maxAge`. */
  maxAge?: number | null;
}

/** Browsers cap cookie lifetimes at 400 days (RFC 6265bis); a longer one would be a lie. */
export const MAX_COOKIE_AGE_MS = 400 * 24 * 3600_000;

export interface LoginOptions {
  /** Keys of pre-login data to keep in addition to the manager's `preLoginKeys`. */
  keep?: readonly string[];
  /** Mark the session half-authenticated until `completeStep()` (SEC-17). */
  pending?: string;
  /** Authentication methods used, recorded for step-up decisions. */
  amr?: string[];
  /**
   * A sign-in carried over from elsewhere (an express-session cookie), not proven in this request:
   * the session gets no authentication time, so every `requireFreshAuth` fails (SEC-14), and its
   * absolute deadline is no later than this time (ms since the epoch) (SEC-11).
   */
  carriedOverUntil?: number;
}

/** The auth state held in `data` (never a copy: callers must not mutate it). */
export function authState(data: Record<string, unknown>): AuthState {
  const a = data[AUTH_KEY];
  return a && typeof a === 'object' ? (a as AuthState) : {};
}

/** The data a login starts from: only allow-listed pre-login keys survive (SEC-15, SEC-17). */
export function loginData(data: Record<string, unknown>, preLoginKeys: readonly string[], options: LoginOptions): Record<string, unknown> {
  const keep = new Set([...preLoginKeys, ...(options.keep ?? [])]);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(data)) if (keep.has(k)) put(out, k, data[k]);
  const auth: AuthState = {};
  if (options.pending) auth.pending = options.pending;
  if (options.amr) auth.amr = [...options.amr];
  // "Remember me" chosen on the login form survives the rotation that login performs.
  const persist = authState(data).maxAge;
  if (persist !== undefined) auth.maxAge = persist;
  if (Object.keys(auth).length) out[AUTH_KEY] = auth;
  return out;
}

/** The data after completing a pending step: the step cleared, `method` added to the methods. */
export function stepData(data: Record<string, unknown>, method?: string): Record<string, unknown> {
  const a = authState(data);
  const next: AuthState = { amr: [...(a.amr ?? []), ...(method ? [method] : [])] };
  if (a.maxAge !== undefined) next.maxAge = a.maxAge;
  return { ...data, [AUTH_KEY]: next };
}
