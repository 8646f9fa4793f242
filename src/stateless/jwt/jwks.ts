/**
 * JWKS publication and pinned import (RFC 7517, SEC-28).
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { JwtKeyRing, type JwsAlg, type JwtKeyInput } from './keys.js';

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: JwsAlg;
  use: 'sig';
}

/**
 * The public keys of a ring, for `/.well-known/jwks.json`. HMAC secrets are never published.
 *
 * @example
 * app.get('/.well-known/jwks.json', (_req, res) => res.json(publicJwks(signer.ring)))
 */
export function publicJwks(ring: JwtKeyRing): { keys: PublicJwk[] } {
  const keys: PublicJwk[] = [];
  for (const k of ring.keys) {
    if (k.kind === 'secret') continue;
    const jwk = k.verifyKey.export({ format: 'jwk' }) as JsonWebKey;
    keys.push({ ...jwk, kid: k.kid, alg: k.algorithms[0]!, use: 'sig' });
  }
  return { keys };
}

/**
 * Turn a pinned JWKS (an object from configuration, or fetched by the app from a pinned URL) into
 * key inputs. Each key must carry a `kid`; its algorithm is its `alg` or the default for its type.
 * Symmetric (`oct`) and private members are refused: a published set holds public keys only.
 *
 * @example
 * const verifier = new JwtVerifier({ keys: importJwks(pinnedJwks), issuer, audience })
 */
export function importJwks(jwks: { keys: unknown[] }): JwtKeyInput[] {
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new ConfigError('JWKS must have a non-empty keys array');
  return jwks.keys.map((raw, i) => {
    const j = raw as Record<string, unknown>;
    if (!j || typeof j !== 'object') throw new ConfigError(`JWKS key #${i} is not an object`);
    if (typeof j.kid !== 'string' || j.kid === '') throw new ConfigError(`JWKS key #${i} has no kid`);
    if (j.kty === 'oct' || 'd' in j || 'k' in j) throw new ConfigError(`JWKS key ${j.kid} is not a public key`);
    if (j.use !== undefined && j.use !== 'sig') throw new ConfigError(`JWKS key ${j.kid} is not a signing key`);
    const { kid, alg, use: _use, key_ops: _ops, ...material } = j;
    let key;
    try {
      key = createPublicKey({ key: material as JsonWebKey, format: 'jwk' });
    } catch {
      throw new ConfigError(`JWKS key ${kid} cannot be read`);
    }
    return { kid, key, ...(typeof alg === 'string' ? { algorithms: [alg as JwsAlg] } : {}) };
  });
}

/** Build a ring straight from a pinned JWKS. */
export function jwksKeyRing(jwks: { keys: unknown[] }): JwtKeyRing {
  return new JwtKeyRing(importJwks(jwks));
}

export interface FetchJwksOptions {
  /** Abort after this many ms. Default 3000. */
  timeoutMs?: number;
  /** Largest body accepted, bytes. Default 64 KiB. */
  maxBytes?: number;
  /** Allow `http:` for loopback hosts only (tests, sidecars). Default false: https only. */
  allowHttpLoopback?: boolean;
  fetch?: typeof fetch;
}

/**
 * The body as text, reading no more than `maxBytes` + one chunk: a chunked body (no Content-Length)
 * is cut off as soon as it passes the cap, instead of being buffered whole and measured afterwards.
 */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ConfigError('JWKS document too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Fetch a JWKS from a URL pinned in YOUR configuration (never from a token's `jku`/`x5u`, SEC-28).
 * https only (http only for loopback with `allowHttpLoopback`), no redirects, bounded time and size.
 * Refresh it on your own schedule and hand the result to `verifier.setKeys(jwksKeyRing(jwks))`.
 *
 * @example
 * const verifier = new JwtVerifier({ keys: jwksKeyRing(await fetchJwks('https://id.example/.well-known/jwks.json')), issuer, audience })
 */
export async function fetchJwks(url: string, o: FetchJwksOptions = {}): Promise<{ keys: unknown[] }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('JWKS URL is not a URL');
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback && o.allowHttpLoopback)) {
    throw new ConfigError('JWKS URL must be https');
  }
  const res = await (o.fetch ?? fetch)(u, { redirect: 'error', signal: AbortSignal.timeout(o.timeoutMs ?? 3000), headers: { accept: 'application/json' } });
  const maxBytes = o.maxBytes ?? 65_536;
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new ConfigError(`JWKS fetch failed with HTTP ${res.status}`);
  }
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new ConfigError('JWKS document too large');
  }
  const text = await readCapped(res, maxBytes);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigError('JWKS document is not JSON');
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new ConfigError('JWKS document has no keys array');
  // Validate now, so a bad document never replaces a good ring.
  importJwks({ keys });
  return { keys };
}
