import { SessionwardError } from '../errors.js';

/**
 * SEC-22..25: the request failed a CSRF check. The message never says which check failed (the
 * reason goes to the event sink only), so a client learns nothing it could tune an attack with.
 *
 * @example
 * if (!verifyCsrfToken(session, body.csrf)) throw new CsrfError()
 */
export class CsrfError extends SessionwardError {
  constructor(message = 'forbidden') {
    super('ERR_CSRF', message, 403);
  }
}

/**
 * A one-time nonce was missing, expired, meant for another action, or already used.
 *
 * @example
 * try { await consumeNonce(session, 'transfer', body.nonce) } catch (e) { if (e instanceof ReplayError) ... }
 */
export class ReplayError extends SessionwardError {
  constructor(message = 'request already processed') {
    super('ERR_REPLAY', message, 409);
  }
}
