/**
 * The browser's side of Device Bound Session Credentials, written from the draft (and what
 * Chromium 156 does on the wire): a cookie jar on a clock, a device key (WebCrypto, ES256 or
 * RS256), registration when a response offers it, and deferral — a request in scope whose bound
 * cookie is missing or about to expire waits for a refresh (403 + challenge, then a signed proof).
 * Tests drive it over any transport: the core in-process or real HTTP to an adapter.
 */
import { parseList, Token } from 'structured-headers';
import { parseSetCookie } from '../../src/cookie/index.js';
import { toBase64Url } from '../../src/lib/base64url.js';

export interface Wire {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}
export type Send = (method: string, path: string, headers: Record<string, string>) => Promise<Wire>;
export type Alg = 'ES256' | 'RS256';

export interface DeviceKey {
  alg: Alg;
  pair: CryptoKeyPair;
  jwk: JsonWebKey;
}

const enc = new TextEncoder();
const b64json = (v: unknown): string => toBase64Url(enc.encode(JSON.stringify(v)));

export async function deviceKey(alg: Alg = 'ES256'): Promise<DeviceKey> {
  const pair = (alg === 'ES256'
    ? await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
    : await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const { kty, crv, x, y, n, e } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = (alg === 'ES256' ? { kty, crv, x, y } : { kty, n, e }) as JsonWebKey;
  return { alg, pair, jwk };
}

/** A compact JWS: `header` and `payload` as given, signed with `key` (raw r||s for ES256). */
export async function signJws(key: DeviceKey, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const algo = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  const sig = new Uint8Array(await crypto.subtle.sign(algo, key.pair.privateKey, enc.encode(input)));
  return `${input}.${toBase64Url(sig)}`;
}

export function header(w: Wire, name: string): string | null {
  const hit = w.headers.find(([k]) => k.toLowerCase() === name);
  return hit ? hit[1] : null;
}

export interface Offer {
  algs: string[];
  path: string;
  challenge: string;
}

export function parseOffer(value: string): Offer | null {
  const [first] = parseList(value);
  if (!first || !Array.isArray(first[0])) return null;
  const [items, params] = first as [Array<[unknown, unknown]>, Map<string, unknown>];
  return { algs: items.map(([t]) => String(t instanceof Token ? t.toString() : t)), path: String(params.get('path')), challenge: String(params.get('challenge')) };
}

export function parseChallenge(value: string): { challenge: string; id: string } | null {
  const [first] = parseList(value);
  if (!first || typeof first[0] !== 'string') return null;
  return { challenge: first[0], id: String((first[1] as Map<string, unknown>).get('id')) };
}

interface BoundSession {
  id: string;
  refreshUrl: string;
  cookieName: string;
  key: DeviceKey;
}

export class DbscBrowser {
  readonly jar = new Map<string, { value: string; expiresAt: number | null }>();
  session: BoundSession | null = null;
  offer: Offer | null = null;
  /** Every proof this browser sent, newest last (replay tests reuse them). */
  readonly proofs: string[] = [];
  refreshes = 0;

  constructor(
    private readonly send: Send,
    private readonly clock: () => number,
    private readonly opts: { alg?: Alg; dbsc?: boolean; refreshWindowMs?: number } = {},
  ) {}

  cookieHeader(): string {
    const now = this.clock();
    const out: string[] = [];
    for (const [name, c] of this.jar) {
      if (c.expiresAt !== null && c.expiresAt <= now) this.jar.delete(name);
      else out.push(`${name}=${c.value}`);
    }
    return out.join('; ');
  }

  /** Apply a response: Set-Cookie (Max-Age on this browser's clock) and a registration offer. */
  absorb(w: Wire): void {
    for (const [k, v] of w.headers) {
      if (k.toLowerCase() !== 'set-cookie') continue;
      const c = parseSetCookie(v)!;
      const maxAge = c.attributes['max-age'];
      if (maxAge === '0') this.jar.delete(c.name);
      else this.jar.set(c.name, { value: c.value, expiresAt: typeof maxAge === 'string' ? this.clock() + Number(maxAge) * 1000 : null });
    }
    const offer = header(w, 'secure-session-registration');
    if (offer && this.opts.dbsc !== false) this.offer = parseOffer(offer);
  }

  /** A request as the browser makes it: deferred behind a refresh when the bound cookie needs one. */
  async request(method: string, path: string, headers: Record<string, string> = {}): Promise<Wire> {
    if (this.needsRefresh()) await this.refresh();
    const w = await this.raw(method, path, headers);
    if (this.offer) await this.register();
    return w;
  }

  needsRefresh(): boolean {
    if (!this.session) return false;
    const c = this.jar.get(this.session.cookieName);
    return !c || (c.expiresAt !== null && c.expiresAt - this.clock() < (this.opts.refreshWindowMs ?? 120_000));
  }

  async raw(method: string, path: string, headers: Record<string, string> = {}): Promise<Wire> {
    const cookie = this.cookieHeader();
    const w = await this.send(method, path, { ...(cookie ? { cookie } : {}), ...headers });
    this.absorb(w);
    return w;
  }

  async register(key?: DeviceKey): Promise<Wire> {
    const offer = this.offer!;
    this.offer = null;
    const k = key ?? (await deviceKey(this.opts.alg ?? (offer.algs[0] as Alg)));
    const proof = await signJws(k, { alg: k.alg, typ: 'dbsc+jwt', jwk: k.jwk }, { jti: offer.challenge });
    this.proofs.push(proof);
    const w = await this.raw('POST', offer.path, { 'secure-session-response': proof });
    if (w.status === 200) this.adopt(w, k);
    return w;
  }

  /** Read session instructions (registration and refresh answer with the same shape). */
  adopt(w: Wire, key: DeviceKey): void {
    const j = JSON.parse(w.body) as { session_identifier: string; refresh_url: string; continue?: boolean; credentials: Array<{ name: string }> };
    if (j.continue === false) {
      this.session = null;
      return;
    }
    this.session = { id: j.session_identifier, refreshUrl: j.refresh_url, cookieName: j.credentials[0]!.name, key };
  }

  /** Ask for a challenge (the first half of a refresh). */
  async challenge(): Promise<{ wire: Wire; challenge: string | null }> {
    const s = this.session!;
    const w = await this.raw('POST', s.refreshUrl, { 'sec-secure-session-id': s.id });
    if (w.status === 200) this.adopt(w, s.key);
    const h = header(w, 'secure-session-challenge');
    return { wire: w, challenge: h ? parseChallenge(h)!.challenge : null };
  }

  async proof(jti: string, key = this.session!.key): Promise<string> {
    return signJws(key, { alg: key.alg, typ: 'dbsc+jwt' }, { jti });
  }

  /** Send a refresh proof (the second half); adopts the answer. */
  async answer(proof: string): Promise<Wire> {
    const s = this.session!;
    this.proofs.push(proof);
    const w = await this.raw('POST', s.refreshUrl, { 'sec-secure-session-id': s.id, 'secure-session-response': proof });
    if (w.status === 200) this.adopt(w, s.key);
    return w;
  }

  /** A whole refresh, answering one more challenge if the server sends a fresh one. */
  async refresh(): Promise<Wire> {
    this.refreshes++;
    let { wire, challenge } = await this.challenge();
    for (let i = 0; i < 2 && challenge; i++) {
      wire = await this.answer(await this.proof(challenge));
      challenge = wire.status === 403 ? parseChallenge(header(wire, 'secure-session-challenge') ?? '')?.challenge ?? null : null;
    }
    // Any other 4xx ends the browser's session; 5xx only skips this attempt.
    if (wire.status >= 400 && wire.status < 500) this.session = null;
    return wire;
  }
}
