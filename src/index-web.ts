/**
 * `sessionward/web`: everything a Web `Request`/`Response` runtime needs (Cloudflare Workers,
 * Vercel Edge, Deno, Bun, Next.js route handlers), and nothing that loads a Node built-in: the
 * session engine on WebCrypto, the memory store, the Web adapter.
 *
 * @example
 * import { SessionManager, MemoryStore, withSession } from 'sessionward/web'
 * const manager = new SessionManager({ store: new MemoryStore(), secrets: [env.SESSION_KEY] })
 * export default { fetch: withSession(manager, async (request, session) => Response.json({ user: session.userId })) }
 */
export * from './adapters/web.js';
export { SessionManager } from './core/manager.js';
export type { RequestInfo, CommitOptions, CommitResult } from './core/manager.js';
export { Session, AUTH_KEY } from './core/session.js';
export type { SessionManagerOptions, CookieOptions } from './core/options.js';
export type { SessionEvent, SessionEventType } from './core/events.js';
export type { SessionStore, SessionRecord, SessionMeta, DataPatch, PatchOptions } from './stores/types.js';
export { MemoryStore } from './stores/memory.js';
export type { SessionCrypto } from './crypto/types.js';
export { webCrypto } from './crypto/web.js';
export * from './errors.js';
