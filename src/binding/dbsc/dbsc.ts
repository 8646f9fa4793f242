/**
 * Device Bound Session Credentials (W3C WebAppSec draft) in the session lifecycle: a guard for
 * `SessionManager` that offers registration when a signed-in session gets a new cookie, answers
 * the registration and refresh endpoints, and refuses a bound session's requests that lack a fresh
 * bound cookie (`session.binding_violation`) — the lifetime is enforced here, not by the browser.
 *
 * @example
 * const dbsc = new DeviceBoundSessions({ boundLifetime: 10 * 60_000 })
 * const manager = new SessionManager({ store, secrets: [key], guard: dbsc })
 * // adapters answer dbsc's endpoints before loading the session; see docs/device-binding.md
 */
import type { SessionGuard, EndpointRequest, EndpointResponse } from '../../core/guard.js';
import type { RequestInfo, SessionManager } from '../../core/manager.js';
import type { Session } from '../../core/session.js';
import type { SessionRecord } from '../../stores/types.js';
import { bindingOf } from '../../core/binding.js';
import { parseCookieHeader } from '../../cookie/index.js';
import { ConfigError, isSessionwardError } from '../../errors.js';
import { mintChallenge } from './challenge.js';
import { checkCredential } from './credential.js';
import { registrationHeader } from './headers.js';
import { DbscContext, reply, resolveDbsc, type DeviceBoundSessionsOptions, type ResolvedDbsc } from './context.js';
import { register } from './register.js';
import { refresh } from './refresh.js';

export class DeviceBoundSessions implements SessionGuard<SessionManager<any>> {
  readonly options: ResolvedDbsc;
  #ctx: DbscContext | null = null;

  constructor(options: DeviceBoundSessionsOptions = {}) {
    this.options = resolveDbsc(options);
  }

  /** @internal Called by the manager this guard is given to. */
  attach(manager: SessionManager<any>): void {
    if (this.#ctx) throw new ConfigError('a DeviceBoundSessions instance serves one SessionManager');
    this.#ctx = new DbscContext(manager, this.options);
  }

  private get ctx(): DbscContext {
    if (!this.#ctx) throw new ConfigError('pass this DeviceBoundSessions to a SessionManager as `guard`');
    return this.#ctx;
  }

  /** @internal A bound record is admitted only with a bound cookie that is ours and unexpired. */
  async admit(record: SessionRecord, req: RequestInfo, now: number): Promise<string | null> {
    const b = bindingOf(record.data);
    if (!b) return null;
    const raw = parseCookieHeader(req.cookie ?? undefined, this.options.cookieName)[this.options.cookieName];
    if (raw === undefined) return now - b.boundAt < this.options.registrationGrace ? null : 'bound_cookie_missing';
    const check = await checkCredential(this.ctx.crypto, this.ctx.keys, b.sid, raw, now);
    return check === 'ok' ? null : check === 'expired' ? 'bound_cookie_expired' : 'bound_cookie_invalid';
  }

  /** @internal A signed-in, unbound session that gets a new cookie is offered registration. */
  async onIssue(session: Session<any>, now: number): Promise<Array<[string, string]>> {
    if (!session.record || !session.isAuthenticated || session.binding !== 'none') return [];
    const challenge = await mintChallenge(this.ctx.crypto, this.ctx.keys[0]!, 'register', session.record.id, now);
    return [['secure-session-registration', registrationHeader(this.options.algorithms, this.options.registerPath, challenge)]];
  }

  /** @internal Registration and refresh; null for any other request. */
  async endpoint(req: EndpointRequest): Promise<EndpointResponse | null> {
    if (req.method !== 'POST') return null;
    const run = req.path === this.options.registerPath ? register : req.path === this.options.refreshPath ? refresh : null;
    if (!run) return null;
    try {
      return await run(this.ctx, req);
    } catch (err) {
      // A store outage while loading: the browser only skips this attempt (5xx), learns nothing more.
      if (isSessionwardError(err)) return reply(503, [['retry-after', '1']]);
      throw err;
    }
  }
}
