/**
 * The session engine as the Node entry points hand it out: node:crypto unless `crypto` says
 * otherwise. The core (src/core/) imports no Node built-in and defaults to WebCrypto, so the Web
 * entry point (`sessionward/web`) loads on edge runtimes; on Node, node:crypto is the fast path.
 *
 * @example
 * import { SessionManager } from 'sessionward'
 * const manager = new SessionManager({ store, secrets: [process.env.SESSION_KEY!] })
 */
import { SessionManager as CoreSessionManager } from './core/manager.js';
import type { SessionManagerOptions } from './core/options.js';
import { nodeCrypto } from './crypto/node.js';

export class SessionManager<D extends Record<string, unknown> = Record<string, unknown>> extends CoreSessionManager<D> {
  constructor(options: SessionManagerOptions) {
    super(options.crypto ? options : { ...options, crypto: nodeCrypto });
  }
}
