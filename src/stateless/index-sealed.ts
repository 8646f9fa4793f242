/**
 * `sessionward/sealed`: stateless sessions in an AES-256-GCM sealed cookie.
 *
 * @example Node (http, Express, Fastify raw req/res)
 * import { getSealedSession } from 'sessionward/sealed'
 * const options = { keys: [{ id: 'k1', key: process.env.SEAL_KEY! }] }   // build once
 * const session = await getSealedSession<{ user?: string }>(req, res, options)
 * session.user = 'ada'
 * await session.save()
 *
 * @example Web (Hono, Next.js route handlers, workers)
 * import { getSealedSessionWeb } from 'sessionward/sealed'
 * const session = await getSealedSessionWeb<{ n?: number }>(request, options)
 * session.n = (session.n ?? 0) + 1
 * await session.save()
 * return session.applyTo(new Response('ok'))
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidInputError } from '../errors.js';
import { NodeSealer } from './seal.js';
import { SealedSessions, type SealedSession, type SealedSessionOptions } from './sealed-session.js';

export { NodeSealer, generateSealKey } from './seal.js';
export { WebSealer } from './seal-web.js';
export { createSealedSessionsWeb, getSealedSessionWeb } from './index-sealed-web.js';
export type { SealKey, Sealer, Opened, OpenFailure } from './keys-common.js';
export { SealedSessions } from './sealed-session.js';
export type { SealedSession, SealedSessionApi, SealedSessionInfo, SealedSessionOptions, HeaderSink } from './sealed-session.js';
export { readIronSeal, isIronSeal } from './iron.js';
export { Revocation } from './revocation.js';
export type { RevocationOptions, RevocationSubject } from './revocation.js';
export type { StatelessEvent, OnStatelessEvent } from './events.js';
export { CookieTooLargeError } from '../errors.js';
export { TokenInvalidError } from './errors.js';

// Options objects are built once per app; the prepared key ring (HKDF, KeyObjects) is cached on them.
const nodeCache = new WeakMap<SealedSessionOptions, SealedSessions<any>>();

/** Build the Node core once (validates options: ConfigError at start-up). */
export function createSealedSessions<T extends object = Record<string, unknown>>(options: SealedSessionOptions): SealedSessions<T> {
  let s = nodeCache.get(options);
  if (!s) {
    s = new SealedSessions<T>(new NodeSealer(options.keys), options);
    nodeCache.set(options, s);
  }
  return s as SealedSessions<T>;
}

/**
 * iron-session style: read the session from `req`; `save()`/`destroy()` set the cookie(s) on `res`
 * (with `Cache-Control: no-store`). Never throws for a bad cookie: it becomes an empty session.
 *
 * @example
 * const session = await getSealedSession<{ user?: string }>(req, res, options)
 */
export async function getSealedSession<T extends object = Record<string, unknown>>(
  req: IncomingMessage,
  res: ServerResponse,
  options: SealedSessionOptions,
): Promise<SealedSession<T>> {
  const core = createSealedSessions<T>(options);
  let applied: readonly string[] = [];
  return core.load(req.headers.cookie, (lines) => {
    if (res.headersSent) throw new InvalidInputError('session cookie changed after the response headers were sent; save() before res.end()');
    const cur = res.getHeader('Set-Cookie');
    const list = cur === undefined ? [] : Array.isArray(cur) ? cur : [String(cur)];
    // Replace what we set before (a load-time re-seal followed by save()), keep everyone else's.
    const others = list.filter((l) => !applied.includes(l));
    applied = lines;
    res.setHeader('Set-Cookie', [...others, ...lines]);
    res.setHeader('Cache-Control', 'no-store');
  });
}
