/**
 * Typed errors of the stateless side (sealed cookies, JWT, refresh tokens). Every one extends
 * {@link SessionwardError}, so callers branch on `err.code`. Messages are deliberately vague:
 * a client learns "invalid token", never which check failed (RFC 8725 §3.2 spirit, SEC-3).
 *
 * @example
 * try { await verifier.verify(token) } catch (e) {
 *   if (isSessionwardError(e) && e.code === 'ERR_TOKEN_EXPIRED') return refresh()
 * }
 */
import { SessionwardError } from '../errors.js';

/** Malformed, forged, wrongly typed or wrongly addressed token. */
export class TokenInvalidError extends SessionwardError {
  constructor(message = 'invalid token', options?: { cause?: unknown }) {
    super('ERR_TOKEN_INVALID', message, 401, options);
  }
}

/** A genuine token past its `exp` (or a refresh token past its idle/absolute expiry). */
export class TokenExpiredError extends SessionwardError {
  constructor(message = 'token expired') {
    super('ERR_TOKEN_EXPIRED', message, 401);
  }
}

/** A genuine token that was revoked (denylist, per-user cut-off, or a revoked refresh family). */
export class TokenRevokedError extends SessionwardError {
  constructor(message = 'token revoked') {
    super('ERR_TOKEN_REVOKED', message, 401);
  }
}

/** SEC-33: a refresh token was used again after rotation; its whole family is now revoked. */
export class TokenReusedError extends SessionwardError {
  constructor(message = 'token revoked') {
    super('ERR_TOKEN_REUSED', message, 401);
  }
}

/**
 * SEC-33: the refresh token was rotated a moment ago by a concurrent request (within the grace
 * window). Not theft: the family is kept; the client retries with the token the winner received.
 */
export class RefreshRaceError extends SessionwardError {
  constructor(message = 'refresh token already rotated') {
    super('ERR_REFRESH_RACE', message, 409);
  }
}
