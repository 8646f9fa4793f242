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
import { normaliseKeys } from './keys-common.js';
import { resolveSealedOptions, SealedSessions, type SealedSession, type SealedSessionOptions } from './sealed-session.js';

export { WebSealer } from './seal-web.js';
export type { SealKey, Sealer, Opened, OpenFailure } from './keys-common.js';
export { SealedSessions } from './sealed-session.js';
export type { SealedSession, SealedSessionApi, SealedSessionInfo, SealedSessionOptions, HeaderSink } from './sealed-session.js';
export type { StatelessEvent, OnStatelessEvent } from './events.js';
export { CookieTooLargeError } from '../errors.js';
export { TokenInvalidError } from './errors.js';

// Options objects are built once per app; the imported key ring is cached on them.
const webCache = new WeakMap<SealedSessionOptions, Promise<SealedSessions<any>>>();

/**
 * Build the WebCrypto core once, at start-up. Every option and key is checked before this returns
 * (a ConfigError is thrown, not a rejected promise), so an unset key stops the app where it is
 * configured instead of failing its first request; only the key import is asynchronous.
 *
 * @example
 * const sealed = createSealedSessionsWeb<{ n?: number }>({ keys: [{ id: 'k1', key: env.SEAL_KEY }] })
 * // per request:
 * const session = await getSealedSessionWeb(request, sealed)
 */
export function createSealedSessionsWeb<T extends object = Record<string, unknown>>(options: SealedSessionOptions): Promise<SealedSessions<T>> {
  let p = webCache.get(options);
  if (!p) {
    resolveSealedOptions(options);
    normaliseKeys(options?.keys);
    p = WebSealer.create(options.keys).then((sealer) => new SealedSessions<T>(sealer, options));
    webCache.set(options, p);
    p.catch(() => webCache.delete(options));
  }
  return p as Promise<SealedSessions<T>>;
}

/**
 * Web Request/Response style. The session's `applyTo(response)` appends its Set-Cookie lines.
 * Pass what {@link createSealedSessionsWeb} returned at start-up (checked there), or the options
 * object itself (checked on its first use).
 *
 * @example
 * const session = await getSealedSessionWeb(request, sealed)
 * return session.applyTo(Response.json({ ok: true }))
 */
export async function getSealedSessionWeb<T extends object = Record<string, unknown>>(
  request: Request,
  sealed: SealedSessionOptions | SealedSessions<T> | Promise<SealedSessions<T>>,
): Promise<SealedSession<T>> {
  const core = sealed instanceof SealedSessions || sealed instanceof Promise ? await sealed : await createSealedSessionsWeb<T>(sealed);
  return core.load(request.headers.get('cookie'));
}
