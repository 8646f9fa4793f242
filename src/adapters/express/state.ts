/**
 * What one request's `req.session` is made of, shared by the view (view.ts), the store bridge
 * (bridge.ts) and the middleware (index.ts): the core session behind it, the view itself, and the
 * login/logout, migration and commit bookkeeping of this request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestInfo } from '../../core/manager.js';
import type { SessionManager } from '../../node-manager.js';
import type { Session } from '../../core/session.js';
import type { Legacy } from './legacy.js';

export type Req = IncomingMessage & {
  session?: any; sessionID?: string; ip?: string; body?: any; csrfToken?: () => string;
  /** cookie-parser's results, when it runs before us. */
  cookies?: unknown; signedCookies?: unknown;
};
export type Res = ServerResponse;
export type Next = (err?: unknown) => void;

/** express-session's saving options, as the adapter applies them at commit. */
export interface Flags {
  rolling: boolean;
  resave: boolean;
  saveUninitialized: boolean;
}

/** A `req.session` object: data keys as plain properties beside the methods. */
export type ViewLike = object;

export interface State<D extends Record<string, unknown>> {
  manager: SessionManager<D>;
  core: Session<D>;
  view: ViewLike | null;
  info: RequestInfo;
  regenerated: boolean;
  /** User id the view's data named when last reconciled; a change means login or logout. */
  lastUid: string | null;
  /** Destroyed sessions whose clearing headers must still go out. */
  retired: Session<D>[];
  legacyId: string | null;
  legacyClear: boolean;
  /** A claimed legacy session's deadline, until its user is logged in (then undefined). */
  legacyUntil: number | undefined;
  /** This request holds the claim on `legacyId`: given back if the migration cannot be committed. */
  legacyClaimed: boolean;
  legacy: Legacy | null;
  userIdOf: (d: Record<string, any>) => string | null;
  res: Res;
  req: Req;
  unsetDestroy: boolean;
  /** Tail of the serialised commits of this request. */
  chain: Promise<unknown> | undefined;
  /** `cookie.maxAge = 0` or a past `cookie.expires`: the session ends at commit. */
  expireNow: boolean;
  flags: Flags;
  /** `req.session` and `req.sessionID` when they are accessors (slots.ts); null when own properties. */
  slots: { session: unknown; sessionID: string | undefined } | null;
}

const METHOD_NAMES = new Set(['id', 'cookie', 'regenerate', 'destroy', 'reload', 'save', 'touch', 'resetMaxAge', '$update']);

/** Keys of `req.session` that are not session data: its methods, `cookie`, and the core's own. */
export function internal(k: string): boolean {
  return k.startsWith('__sw') || k === '__proto__' || METHOD_NAMES.has(k);
}

/** Copy the session data onto the view as plain properties. */
export function hydrate(view: ViewLike, data: Record<string, unknown>): void {
  for (const k of Object.keys(data)) if (!internal(k)) (view as any)[k] = data[k];
}

/** Remove the view's data properties (before hydrating it afresh). */
export function clearView(view: ViewLike): void {
  for (const k of Object.keys(view)) if (!internal(k)) delete (view as any)[k];
}
