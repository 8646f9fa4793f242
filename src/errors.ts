/**
 * Typed errors with stable codes. Callers branch on `err.code`, never on message text.
 * Messages on security failures are deliberately vague so they leak nothing to a client.
 *
 * @example
 * try { await session.requireFreshAuth(300) } catch (e) {
 *   if (isSessionwardError(e) && e.code === 'ERR_REAUTH_REQUIRED') redirectToLogin()
 * }
 */
export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE'
  | 'ERR_STORE_MEMORY'
  | 'ERR_STORE_EVICTION_POLICY'
  | 'ERR_SESSION_CONFLICT'
  | 'ERR_SESSION_DESTROYED'
  | 'ERR_SESSION_SUPERSEDED'
  | 'ERR_REAUTH_REQUIRED'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_COOKIE_TOO_LARGE'
  | 'ERR_INVALID_INPUT'
  | 'ERR_CSRF'
  | 'ERR_REPLAY'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_REVOKED'
  | 'ERR_TOKEN_REUSED'
  | 'ERR_REFRESH_RACE'
  | 'ERR_THROTTLED'
  | 'ERR_DPOP_NONCE';

/** Base class of every error sessionward throws on purpose. */
export class SessionwardError extends Error {
  readonly code: ErrorCode;
  /** Suggested HTTP status for adapters; never derived from message text. */
  readonly status: number;
  /**
   * Headers the error response must carry (e.g. the Set-Cookie that clears a refused cookie and
   * Retry-After on a 429). Adapters apply them; they never say why a request failed.
   */
  readonly headers: ReadonlyArray<readonly [string, string]> = [];
  constructor(code: ErrorCode, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/**
 * Misconfiguration: thrown at start-up, with a message that says what to do. The one exception is
 * a PostgreSQL table that was never created, found by the first query that needs it.
 */
export class ConfigError extends SessionwardError {
  constructor(message: string) {
    super('ERR_CONFIG', message, 500);
  }
}

/** The store did not answer in time or refused the connection. Adapters map it to 503 (fail closed). */
export class StoreUnavailableError extends SessionwardError {
  constructor(message = 'session store unavailable', options?: { cause?: unknown }) {
    super('ERR_STORE_UNAVAILABLE', message, 503, options);
  }
}

/**
 * The store is up but full: it refused a write for lack of memory (Redis `OOM` under
 * `noeviction`, or when only unevictable keys are left). Distinct from ERR_STORE_UNAVAILABLE so
 * operators see "add memory", not "Redis is down"; adapters map it to 503 (fail closed).
 */
export class StoreMemoryError extends SessionwardError {
  constructor(message = 'session store out of memory', options?: { cause?: unknown }) {
    super('ERR_STORE_MEMORY', message, 503, options);
  }
}

/**
 * The store's server may evict keys that hold revocation state (Redis `maxmemory-policy
 * allkeys-*`), so a logged-out or revoked credential could be accepted again. Refused unless the
 * application opted in by name (see docs/redis.md, "Eviction").
 */
export class StoreEvictionPolicyError extends SessionwardError {
  constructor(message: string) {
    super('ERR_STORE_EVICTION_POLICY', message, 503);
  }
}

/** The store answered with something unusable (corrupt row, schema mismatch). */
export class StoreError extends SessionwardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE', message, 500, options);
  }
}

/** A concurrent request changed the same session key; nothing was lost, the write was refused. */
export class SessionConflictError extends SessionwardError {
  constructor(message = 'session changed concurrently') {
    super('ERR_SESSION_CONFLICT', message, 409);
  }
}

/** The session was destroyed (or expired) while this request held it. */
export class SessionDestroyedError extends SessionwardError {
  constructor(message = 'session no longer exists') {
    super('ERR_SESSION_DESTROYED', message, 401);
  }
}

/**
 * The request reached its session through a superseded token (the rotation grace window): it
 * may read and write data, but not make security decisions — rotate, log in, complete a step or
 * end other sessions. Retrying with the current cookie succeeds.
 */
export class SessionSupersededError extends SessionwardError {
  constructor(message = 'session token superseded') {
    super('ERR_SESSION_SUPERSEDED', message, 409);
  }
}

/** SEC-14: the operation needs an authentication more recent than the session has. */
export class ReauthRequiredError extends SessionwardError {
  constructor(message = 'reauthentication required') {
    super('ERR_REAUTH_REQUIRED', message, 401);
  }
}

/** SEC-17: the request needs a fully authenticated session. */
export class UnauthenticatedError extends SessionwardError {
  constructor(message = 'authentication required') {
    super('ERR_UNAUTHENTICATED', message, 401);
  }
}

/** SEC-7: a cookie (name + value) would pass the 4096-byte limit. */
export class CookieTooLargeError extends SessionwardError {
  constructor(message = 'cookie too large') {
    super('ERR_COOKIE_TOO_LARGE', message, 500);
  }
}

/** Bad input from the application (not the client): wrong types, values that cannot be stored. */
export class InvalidInputError extends SessionwardError {
  constructor(message: string) {
    super('ERR_INVALID_INPUT', message, 400);
  }
}

export function isSessionwardError(e: unknown): e is SessionwardError {
  return e instanceof SessionwardError;
}

/** SEC-42: this source sent too many invalid tokens; adapters map it to 429. */
export class ThrottledError extends SessionwardError {
  override readonly headers: ReadonlyArray<readonly [string, string]>;
  constructor(message = 'too many requests', headers: ReadonlyArray<readonly [string, string]> = []) {
    super('ERR_THROTTLED', message, 429);
    this.headers = headers;
  }
}
