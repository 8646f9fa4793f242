/**
 * Session events (SEC-40). `sid` is a keyed hash (HMAC) of the session's store id, so logs can
 * correlate one session's events without ever holding a token or a store key (SEC-41).
 */
export type SessionEventType =
  | 'session.created'
  | 'session.rotated'
  | 'session.destroyed'
  | 'session.expired'
  | 'session.conflict'
  | 'session.anomaly'
  | 'sessions.revoked'
  | 'token.invalid'
  | 'token.unknown'
  | 'token.grace'
  | 'token.reissued'
  | 'alert.invalid_tokens'
  | 'auth.reauth_required'
  | 'session.bound'
  | 'session.binding_violation'
  /** A risky setting the manager was created with (`reason` is its stable code). */
  | 'config.warning';

export interface SessionEvent {
  type: SessionEventType;
  /** ISO-8601 UTC timestamp. */
  at: string;
  /** Keyed hash of the session id (never the token). */
  sid?: string;
  /** For rotations: keyed hash of the successor's id. */
  newSid?: string;
  userId?: string | null;
  ip?: string;
  userAgent?: string;
  reason?: string;
  count?: number;
}
