/**
 * `sessionward/sealed/web`: sealed-cookie sessions on WebCrypto alone, for edge runtimes (Cloudflare
 * Workers, Vercel Edge, Deno, Bun). Loads no Node built-in; `sessionward/sealed` re-exports it.
 *
 * @example
 * import { getSealedSessionWeb } from 'sessionward/sealed/web'
 * const session = await getSealedSessionWeb<{ n?: number }>(request, options)
 * session.n = (session.n ?? 0) + 1
 * await session.save()
 * return session.applyTo(new Response('ok'))
 */
import { WebSealer } from './seal-web.js';
import { SealedSessions, type SealedSession, type SealedSessionOptions } from './sealed-session.js';

export { WebSealer } from './seal-web.js';
export type { SealKey, Sealer, Opened, OpenFailure } from './keys-common.js';
export { SealedSessions } from './sealed-session.js';
export type { SealedSession, SealedSessionApi, SealedSessionInfo, SealedSessionOptions, HeaderSink } from './sealed-session.js';
export type { StatelessEvent, OnStatelessEvent } from './events.js';
export { CookieTooLargeError } from '../errors.js';
export { TokenInvalidError } from './errors.js';

// Options objects are built once per app; the imported key ring is cached on them.
const webCache = new WeakMap<SealedSessionOptions, Promise<SealedSessions<any>>>();

/** Build the WebCrypto core once. */
export function createSealedSessionsWeb<T extends object = Record<string, unknown>>(options: SealedSessionOptions): Promise<SealedSessions<T>> {
  let p = webCache.get(options);
  if (!p) {
    p = WebSealer.create(options.keys).then((sealer) => new SealedSessions<T>(sealer, options));
    webCache.set(options, p);
    p.catch(() => webCache.delete(options));
  }
  return p as Promise<SealedSessions<T>>;
}

/**
 * Web Request/Response style. The session's `applyTo(response)` appends its Set-Cookie lines.
 *
 * @example
 * const session = await getSealedSessionWeb(request, options)
 * return session.applyTo(Response.json({ ok: true }))
 */
export async function getSealedSessionWeb<T extends object = Record<string, unknown>>(
  request: Request,
  options: SealedSessionOptions,
): Promise<SealedSession<T>> {
  const core = await createSealedSessionsWeb<T>(options);
  return core.load(request.headers.get('cookie'));
}
