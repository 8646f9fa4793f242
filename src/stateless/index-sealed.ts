/**
 * `sessionward/sealed`: stateless sessions in an AES-256-GCM sealed cookie.
 *
 * @example Node (http, Express, Fastify raw req/res)
 * import { createSealedSessions, getSealedSession } from 'sessionward/sealed'
 * // at start-up: a missing or short key throws a ConfigError here
 * const sealed = createSealedSessions<{ user?: string }>({ keys: [{ id: 'k1', key: process.env.SEAL_KEY! }] })
 * const session = await getSealedSession(req, res, sealed)
 * session.user = 'ada'
 * await session.save()
 *
 * @example Web (Hono, Next.js route handlers, workers)
 * import { createSealedSessionsWeb, getSealedSessionWeb } from 'sessionward/sealed'
 * const sealed = createSealedSessionsWeb<{ n?: number }>(options)   // at start-up
 * const session = await getSealedSessionWeb(request, sealed)
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

/**
 * Build the Node core once, at start-up: every option and key is checked here (ConfigError), so an
 * unset key stops the app where it is configured instead of failing its first request.
 *
 * @example
 * const sealed = createSealedSessions<{ user?: string }>({ keys: [{ id: 'k1', key: process.env.SEAL_KEY! }] })
 * // per request:
 * const session = await getSealedSession(req, res, sealed)
 */
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
 * Pass what {@link createSealedSessions} returned at start-up (checked there), or the options
 * object itself (checked on its first use, i.e. on the first request).
 *
 * @example
 * const session = await getSealedSession<{ user?: string }>(req, res, sealed)
 */
export async function getSealedSession<T extends object = Record<string, unknown>>(
  req: IncomingMessage,
  res: ServerResponse,
  sealed: SealedSessionOptions | SealedSessions<T>,
): Promise<SealedSession<T>> {
  const core = sealed instanceof SealedSessions ? sealed : createSealedSessions<T>(sealed);
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
