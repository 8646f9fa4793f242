/**
 * @internal What the DBSC endpoints share: resolved options, the manager's keys and crypto, and
 * the replies they build (session instructions, the bound cookie, the refusals the browser
 * understands).
 */
import { ConfigError } from '../../errors.js';
import { serializeCookie, validateCookieOptions } from '../../cookie/index.js';
import type { SessionManager, RequestInfo } from '../../core/manager.js';
import type { EndpointRequest, EndpointResponse } from '../../core/guard.js';
import type { SessionCrypto } from '../../crypto/types.js';
import type { DbscAlg } from './proof.js';
import { mintCredential } from './credential.js';

export interface DeviceBoundSessionsOptions {
  /** Where the browser registers its key. Default `/.sw/dbsc/register`. */
  registerPath?: string;
  /** Where the browser refreshes the bound cookie. Default `/.sw/dbsc/refresh`. */
  refreshPath?: string;
  /**
   * Lifetime of the bound cookie in ms, enforced on the server (default 10 minutes, at least 1 s,
   * at most 1 day). A stolen copy is refused this long after it was issued at the latest. Chromium
   * refreshes about 2 minutes before expiry, so lifetimes under that refresh before every request.
   */
  boundLifetime?: number;
  /** How long a challenge may be answered (ms, default 60 s). */
  challengeLifetime?: number;
  /** Name of the bound cookie. Default `__Host-sw_dbsc`. */
  cookieName?: string;
  /** Device-key algorithms offered, in order of preference. Default `['ES256', 'RS256']`. */
  algorithms?: DbscAlg[];
  /**
   * Bind the whole site (`include_site`, default true) or only the origin. Chromium refuses
   * `include_site` on `localhost`.
   */
  includeSite?: boolean;
  /**
   * After a registration, requests still in flight without the bound cookie are admitted for this
   * long (ms, default 10 s): they were sent before the browser had it.
   */
  registrationGrace?: number;
}

export interface ResolvedDbsc {
  registerPath: string;
  refreshPath: string;
  boundLifetime: number;
  challengeLifetime: number;
  cookieName: string;
  algorithms: DbscAlg[];
  includeSite: boolean;
  registrationGrace: number;
  /** Attributes of the bound cookie as sent in Set-Cookie and in the session instructions. */
  cookieAttributes: string;
}

const COOKIE_ATTRS = { path: '/', secure: true, httpOnly: true, sameSite: 'Lax' } as const;
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]{0,200}$/;

function ms(name: string, v: number | undefined, def: number, min: number, max: number): number {
  const x = v ?? def;
  if (!Number.isFinite(x) || x < min || x > max) throw new ConfigError(`${name} must be between ${min} and ${max} ms`);
  return x;
}

export function resolveDbsc(o: DeviceBoundSessionsOptions): ResolvedDbsc {
  const registerPath = o.registerPath ?? '/.sw/dbsc/register';
  const refreshPath = o.refreshPath ?? '/.sw/dbsc/refresh';
  for (const p of [registerPath, refreshPath]) if (!PATH.test(p)) throw new ConfigError(`DBSC path ${JSON.stringify(p)} is not a plain absolute path`);
  if (registerPath === refreshPath) throw new ConfigError('DBSC registerPath and refreshPath must differ');
  const algorithms = o.algorithms ?? ['ES256', 'RS256'];
  if (algorithms.length === 0 || algorithms.some((a) => a !== 'ES256' && a !== 'RS256')) throw new ConfigError("DBSC algorithms must be 'ES256' and/or 'RS256'");
  const cookieName = o.cookieName ?? '__Host-sw_dbsc';
  validateCookieOptions(cookieName, COOKIE_ATTRS);
  const attrs = serializeCookie(cookieName, 'x', COOKIE_ATTRS);
  return {
    registerPath,
    refreshPath,
    boundLifetime: ms('boundLifetime', o.boundLifetime, 10 * 60_000, 1_000, 24 * 3600_000),
    challengeLifetime: ms('challengeLifetime', o.challengeLifetime, 60_000, 1_000, 10 * 60_000),
    cookieName,
    algorithms: [...algorithms],
    includeSite: o.includeSite ?? true,
    registrationGrace: ms('registrationGrace', o.registrationGrace, 10_000, 0, 60_000),
    cookieAttributes: attrs.slice(attrs.indexOf(';') + 2),
  };
}

/** @internal Everything an endpoint needs, bound to one manager. */
export class DbscContext {
  readonly keys: readonly Uint8Array[];
  readonly crypto: SessionCrypto;
  constructor(readonly manager: SessionManager<any>, readonly o: ResolvedDbsc) {
    if (manager.options.keys.length === 0) throw new ConfigError('device-bound sessions need the manager to have secrets (they sign challenges and bound cookies)');
    this.keys = manager.options.keys;
    this.crypto = manager.crypto;
  }

  requestInfo(req: EndpointRequest): RequestInfo {
    return { cookie: req.header('cookie'), userAgent: req.userAgent, ip: req.ip };
  }

  /** The Set-Cookie of a fresh bound cookie for binding `sid`. */
  async boundCookie(sid: string, now: number): Promise<string> {
    const value = await mintCredential(this.crypto, this.keys[0]!, sid, now + this.o.boundLifetime);
    return `${this.o.cookieName}=${value}; Max-Age=${Math.floor(this.o.boundLifetime / 1000)}; ${this.o.cookieAttributes}`;
  }

  /** Session instructions: what the browser keeps bound, and where it refreshes. */
  instructions(sid: string): string {
    return JSON.stringify({
      session_identifier: sid,
      refresh_url: this.o.refreshPath,
      scope: { include_site: this.o.includeSite, scope_specification: [] },
      credentials: [{ type: 'cookie', name: this.o.cookieName, attributes: this.o.cookieAttributes }],
    });
  }
}

const NO_STORE: Array<[string, string]> = [['cache-control', 'no-store']];

/** A refusal that says nothing about why. 4xx ends the browser's DBSC session; 5xx only skips this attempt. */
export function reply(status: number, headers: Array<[string, string]> = []): EndpointResponse {
  return { status, headers: [...NO_STORE, ...headers], body: '' };
}

/** 200 with instructions: the session is bound, and its cookies are in `headers`. */
export function bound(ctx: DbscContext, sid: string, headers: Array<[string, string]>): EndpointResponse {
  return { status: 200, headers: [['content-type', 'application/json'], ...headers.filter(([k]) => k !== 'cache-control'), ...NO_STORE], body: ctx.instructions(sid) };
}

/** `{"continue": false}`: the browser ends its DBSC session (ours is gone or was never bound). */
export function ended(sid: string | null, headers: Array<[string, string]> = []): EndpointResponse {
  return {
    status: 200,
    headers: [['content-type', 'application/json'], ...headers.filter(([k]) => k !== 'cache-control'), ...NO_STORE],
    body: JSON.stringify(sid ? { session_identifier: sid, continue: false } : { continue: false }),
  };
}
