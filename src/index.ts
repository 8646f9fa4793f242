/**
 * sessionward — sessions that are secure by default, fast and observable.
 * The core knows nothing of frameworks: adapters live under `sessionward/node`, `sessionward/web`, ...
 */
export { SessionManager } from './node-manager.js';
export type { RequestInfo, CommitOptions, CommitResult } from './core/manager.js';
export { Session, AUTH_KEY } from './core/session.js';
export type { LoginOptions, DeviceSession } from './core/session.js';
export { AAL_PRESETS } from './core/options.js';
export type { SessionManagerOptions, CookieOptions, AalPreset } from './core/options.js';
export type { SessionEvent, SessionEventType } from './core/events.js';
export type { SessionStore, SessionRecord, SessionMeta, DataPatch, PatchOptions } from './stores/types.js';
export { MemoryStore } from './stores/memory.js';
export type { SessionCrypto } from './crypto/types.js';
export { nodeCrypto } from './crypto/node.js';
export { parseCookieHeader, serializeCookie, parseSetCookie, validateCookieOptions } from './cookie/index.js';
export type { CookieAttributes, SameSite } from './cookie/index.js';
export * from './errors.js';
