/**
 * Anomaly detection with responses (SEC-35, SEC-42), in the library rather than in each app.
 *
 * Two inputs:
 * - `check(session, request)` after a session is loaded: network change (a new /24 or /64), browser
 *   family change, the same session switching back to a network it used while another one was in
 *   use (a stolen cookie used beside its owner), and, with a `geo` hook, ASN change and impossible
 *   travel. The per-session state lives in the session's own data under `__risk`, so it is in the
 *   store already (shared by every instance), rotates with the session, ends with it, and costs
 *   no extra store call: only a change writes.
 * - `onEvent` (a sink for the event stream): invalid-token floods and CSRF refusal bursts per
 *   source network, refresh-token reuse and device-binding violations. Counters per source live in
 *   the store you give (short-lived records, compare-and-set), so a flood spread over many
 *   instances is counted once; local memory is bounded.
 *
 * Each signal has a weight; a request's score picks the action unless a policy names one:
 * `log` < `notify` < `step_up` (ReauthRequiredError until the user re-authenticates) <
 * `end_session` < `end_all` (every session of the user). The defaults never act on one soft signal
 * beyond logging: a new network or a browser update alone only logs; a stolen-cookie pattern asks
 * for the password again; a device-binding violation ends the session.
 *
 * @example
 * const detector = new Detector({ store, onEvent: sink, notify: (a) => mailSecurityTeam(a) })
 * const sink = fanOut(detector.onEvent, metrics.onEvent)
 * // after manager.load(...) in a request:
 * await detector.check(session, { ip, userAgent })   // may throw ReauthRequiredError / SessionDestroyedError
 */
import { createHash } from 'node:crypto';
import { ConfigError, ReauthRequiredError, SessionDestroyedError } from '../errors.js';
import type { Session } from '../core/session.js';
import type { SessionRecord, SessionStore } from '../stores/types.js';
import { newRecord, nextVersion } from '../lib/record.js';
import type { EventSink, SessionwardEvent } from './events.js';
import { distanceKm, networkOf, userAgentFamily } from './network.js';

export type Signal =
  | 'ip_change'
  | 'ua_change'
  | 'concurrent_networks'
  | 'asn_change'
  | 'impossible_travel'
  | 'invalid_token_flood'
  | 'csrf_burst'
  | 'refresh_reuse'
  | 'binding_violation';

export type Action = 'log' | 'notify' | 'step_up' | 'end_session' | 'end_all';

const RANK: Record<Action, number> = { log: 0, notify: 1, step_up: 2, end_session: 3, end_all: 4 };

export const DEFAULT_WEIGHTS: Readonly<Record<Signal, number>> = {
  ip_change: 1,
  ua_change: 1,
  asn_change: 1,
  concurrent_networks: 2,
  impossible_travel: 3,
  invalid_token_flood: 1,
  csrf_burst: 1,
  refresh_reuse: 3,
  binding_violation: 4,
};

/** Score thresholds of the default policy: one soft signal (weight 1) only logs. */
export const DEFAULT_THRESHOLDS: Readonly<Partial<Record<Action, number>>> = { notify: 2, step_up: 2, end_session: 4 };

export interface Anomaly {
  signals: Signal[];
  score: number;
  action: Action;
  userId: string | null;
  /** Keyed hash of the session id, when `hashSid` is configured. */
  sid?: string;
  ip?: string;
  /** For source signals: the network the events came from. */
  source?: string;
}

export interface GeoInfo {
  lat?: number;
  lon?: number;
  asn?: number | string;
}

export interface DetectorOptions {
  /** Store for per-source counters shared by every instance (any sessionward store). */
  store: SessionStore;
  /** Per-signal action overriding the score (e.g. `{ ua_change: 'step_up' }`). */
  policy?: Partial<Record<Signal, Action>>;
  weights?: Partial<Record<Signal, number>>;
  thresholds?: Partial<Record<Action, number>>;
  /** Window for concurrent use and for source counters, ms (default 10 minutes). */
  windowMs?: number;
  /** Invalid tokens per source network within the window that count as a flood (default 20). */
  invalidTokenLimit?: number;
  /** CSRF refusals per source network within the window that count as a burst (default 10). */
  csrfLimit?: number;
  /** Geo/ASN lookup for ASN change and impossible travel. Failures are ignored. */
  geo?: (ip: string) => Promise<GeoInfo | null> | GeoInfo | null;
  /** Speed above which travel is impossible, km/h (default 1000). */
  maxSpeedKmh?: number;
  /** Called for every anomaly whose action is `notify` or stronger. Failures are ignored. */
  notify?: (a: Anomaly) => void | Promise<void>;
  /** Receives `anomaly.detected` events. */
  onEvent?: EventSink;
  /** Keyed hash of a session id for events (pass `(id) => manager.sid(id)`). */
  hashSid?: (id: string) => Promise<string> | string;
  clock?: () => number;
}

/** The per-session state kept in the session's data. Short keys: it is stored with every session that moved. */
interface RiskState {
  /** Networks seen, most recent last: [network, last seen ms]. At most 4. */
  n: Array<[string, number]>;
  /** Browser families seen (at most 4). */
  u?: string[];
  /** Last geo position and its time. */
  g?: [number, number, number];
  a?: string;
  /** Step-up required for authentications before this time. */
  s?: number;
}

export const RISK_KEY = '__risk';
const MAX_NETS = 4;
const WRITE_EVERY_MS = 60_000;

export class Detector {
  readonly #o: Required<Pick<DetectorOptions, 'windowMs' | 'invalidTokenLimit' | 'csrfLimit' | 'maxSpeedKmh'>> & DetectorOptions;
  readonly #weights: Record<Signal, number>;
  readonly #thresholds: Partial<Record<Action, number>>;
  readonly #clock: () => number;
  /** Sources that already raised their signal in the current window: no more store calls for them. */
  readonly #raised = new Map<string, number>();
  /**
   * Events per source counted here but not yet in the store, while this instance's one bump for
   * that source runs: events that arrive meanwhile join the next bump instead of racing it.
   */
  readonly #pending = new Map<string, { n: number }>();

  constructor(options: DetectorOptions) {
    if (!options?.store || typeof options.store.get !== 'function') throw new ConfigError('Detector needs a store (any sessionward SessionStore)');
    const windowMs = options.windowMs ?? 600_000;
    if (!Number.isInteger(windowMs) || windowMs < 1000) throw new ConfigError('Detector windowMs must be an integer >= 1000');
    this.#o = { invalidTokenLimit: 20, csrfLimit: 10, maxSpeedKmh: 1000, ...options, windowMs };
    this.#weights = { ...DEFAULT_WEIGHTS, ...options.weights };
    this.#thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * Inspect a loaded, signed-in session against this request and apply the resulting action.
   * Throws ReauthRequiredError (step-up) or SessionDestroyedError (ended); returns the anomaly
   * (or null) otherwise. Anonymous sessions are not inspected.
   */
  async check(session: Session<any>, req: { ip?: string | null; userAgent?: string | null }): Promise<Anomaly | null> {
    const rec = session.record as SessionRecord | null;
    if (!rec || session.userId === null) return null;
    const now = this.#clock();
    const net = networkOf(req.ip);
    const fam = userAgentFamily(req.userAgent);
    const homeNet = networkOf(rec.meta?.ip);
    const homeFam = userAgentFamily(rec.meta?.userAgent);
    const prior = readState(session.get(RISK_KEY));
    // Fast path: the device the session was issued to, and nothing ever moved: no state, no write.
    if (!prior && (net === null || net === homeNet) && (fam === null || fam === homeFam)) return null;

    let state: RiskState = prior ?? { n: homeNet ? [[homeNet, rec.lastSeenAt]] : [] };
    let dirty = !prior;
    // A re-authentication after a step-up clears the history: the owner proved themselves here.
    if (state.s !== undefined && (session.authTime ?? 0) >= state.s) {
      state = { n: net ? [[net, now]] : [], u: fam ? [fam] : undefined };
      dirty = true;
    } else if (state.s !== undefined) {
      throw new ReauthRequiredError();
    }

    const signals: Signal[] = [];
    if (net) {
      const i = state.n.findIndex(([n]) => n === net);
      const last = state.n[state.n.length - 1];
      if (i < 0) {
        signals.push('ip_change');
        state.n.push([net, now]);
        if (state.n.length > MAX_NETS) state.n.shift();
        dirty = true;
      } else if (i !== state.n.length - 1) {
        // Back to a network used before while another one was in use within the window: two
        // places hold this session at once.
        if (last && now - last[1] < this.#o.windowMs) signals.push('concurrent_networks');
        const [entry] = state.n.splice(i, 1);
        state.n.push([entry![0], now]);
        dirty = true;
      } else if (now - state.n[i]![1] > WRITE_EVERY_MS) {
        state.n[i]![1] = now;
        dirty = true;
      }
    }
    if (fam && fam !== homeFam) {
      const seen = state.u ?? [];
      if (!seen.includes(fam)) {
        signals.push('ua_change');
        state.u = [...seen, fam].slice(-MAX_NETS);
        dirty = true;
      }
    }
    if (this.#o.geo && req.ip && signals.includes('ip_change')) {
      const geo = await this.#geo(req.ip);
      if (geo) {
        if (typeof geo.lat === 'number' && typeof geo.lon === 'number') {
          if (state.g) {
            const hours = Math.max((now - state.g[2]) / 3_600_000, 1 / 3600);
            if (distanceKm({ lat: state.g[0], lon: state.g[1] }, { lat: geo.lat, lon: geo.lon }) / hours > this.#o.maxSpeedKmh) signals.push('impossible_travel');
          }
          state.g = [geo.lat, geo.lon, now];
        }
        if (geo.asn !== undefined) {
          const asn = String(geo.asn).slice(0, 16);
          if (state.a !== undefined && state.a !== asn) signals.push('asn_change');
          state.a = asn;
        }
      }
    }
    let anomaly: Anomaly | null = null;
    if (signals.length) {
      anomaly = await this.#decide(signals, { userId: session.userId, ip: req.ip ?? undefined }, session.id);
      if (anomaly.action === 'step_up') {
        state.s = now;
        dirty = true;
      }
    }
    if (anomaly && RANK[anomaly.action] >= RANK.end_session) {
      if (anomaly.action === 'end_all') {
        try {
          await session.destroyOtherSessions();
        } catch {
          // A superseded token cannot end the others; ending this one still stands.
        }
      }
      await session.destroy();
      throw new SessionDestroyedError();
    }
    if (anomaly?.action === 'step_up') {
      // Written now, not at commit: the request is about to fail and would never commit.
      await session.update((d: Record<string, unknown>) => {
        d[RISK_KEY] = state;
      });
      throw new ReauthRequiredError();
    }
    if (dirty) session.set(RISK_KEY, state);
    return anomaly;
  }

  /** Event sink: counts source signals. Never throws, never blocks the emitter. */
  readonly onEvent = (e: SessionwardEvent): void => {
    void this.#observe(e).catch(() => undefined);
  };

  async #observe(e: SessionwardEvent): Promise<void> {
    switch (e.type) {
      case 'token.invalid':
      case 'token.unknown':
        if ('ip' in e && e.ip) await this.#count('invalid_token_flood', e.ip, this.#o.invalidTokenLimit);
        return;
      case 'csrf.rejected':
        if (e.ip) await this.#count('csrf_burst', e.ip, this.#o.csrfLimit);
        return;
      case 'refresh.reuse':
        await this.#decide(['refresh_reuse'], { userId: null, source: e.familyHash.slice(0, 16) });
        return;
      default:
        if ((e as { type: string }).type === 'session.binding_violation') {
          const v = e as unknown as { userId?: string | null; sid?: string; ip?: string };
          await this.#decide(['binding_violation'], { userId: v.userId ?? null, sid: v.sid, ip: v.ip });
        }
    }
  }

  /**
   * Count one event of a source network in the shared store; signal once per window at the limit.
   *
   * One compare-and-set per source at a time in this instance: events that arrive while it runs
   * are added by the next one. A flood arrives all at once, and one CAS per event made those
   * events race each other: with a slow store, a burst of 12 left 4 of them to give up after
   * their retries, the count stopped at 8 and a limit of 10 was never reached. Now only other
   * instances contend, and a bump that still loses keeps its events for the next round.
   */
  async #count(signal: Signal, ip: string, limit: number): Promise<void> {
    const source = networkOf(ip) ?? ip.slice(0, 64);
    const key = `${signal}|${source}`;
    if (this.#isRaised(key, this.#clock())) return;
    const running = this.#pending.get(key);
    if (running) {
      running.n++;
      return;
    }
    const p = { n: 1 };
    this.#pending.set(key, p);
    try {
      // Each round adds what is pending; a lost CAS (-1) leaves it pending. Rounds are bounded
      // (every round is 8 CAS attempts) so a store that never accepts cannot keep this running.
      for (let round = 0; p.n > 0 && round < 8; round++) {
        const now = this.#clock();
        if (this.#isRaised(key, now)) return;
        const add = p.n;
        const n = await bump(this.#o.store, recordId(key), now, this.#o.windowMs, add);
        if (n < 0) continue;
        p.n -= add;
        // Counts are unique across instances (CAS), so exactly one bump crosses the limit.
        if (n - add < limit && n >= limit) {
          if (this.#raised.size >= 10_000) this.#raised.delete(this.#raised.keys().next().value as string);
          this.#raised.set(key, now);
          await this.#decide([signal], { userId: null, source, ip });
          return;
        }
      }
    } finally {
      this.#pending.delete(key);
    }
  }

  #isRaised(key: string, now: number): boolean {
    const raisedAt = this.#raised.get(key);
    return raisedAt !== undefined && now - raisedAt < this.#o.windowMs;
  }

  async #decide(signals: Signal[], who: { userId: string | null; ip?: string; source?: string; sid?: string }, sessionId?: string | null): Promise<Anomaly> {
    const score = signals.reduce((s, x) => s + (this.#weights[x] ?? 0), 0);
    let action: Action = 'log';
    for (const [a, min] of Object.entries(this.#thresholds) as [Action, number][]) if (score >= min && RANK[a] > RANK[action]) action = a;
    for (const s of signals) {
      const p = this.#o.policy?.[s];
      if (p && RANK[p] > RANK[action]) action = p;
    }
    // Source signals have no session to act on: telling someone is both the least and the most
    // that can be done about a flood from one network.
    if (!sessionId) action = 'notify';
    const a: Anomaly = { signals, score, action, userId: who.userId };
    if (who.ip) a.ip = who.ip.slice(0, 64);
    if (who.source) a.source = who.source;
    if (who.sid) a.sid = who.sid;
    else if (sessionId && this.#o.hashSid) a.sid = await this.#o.hashSid(sessionId);
    const at = new Date(this.#clock()).toISOString();
    try {
      this.#o.onEvent?.({ type: 'anomaly.detected', at, signal: signals.join('+'), action, score, userId: a.userId, ...(a.sid ? { sid: a.sid } : {}), ...(a.ip ? { ip: a.ip } : {}) });
    } catch {
      // see onEvent
    }
    if (RANK[action] >= RANK.notify && this.#o.notify) {
      try {
        await this.#o.notify(a);
      } catch {
        // A failing notifier never changes the decision.
      }
    }
    return a;
  }

  async #geo(ip: string): Promise<GeoInfo | null> {
    try {
      return (await this.#o.geo!(ip)) ?? null;
    } catch {
      return null;
    }
  }
}

function readState(v: unknown): RiskState | null {
  if (!v || typeof v !== 'object' || !Array.isArray((v as RiskState).n)) return null;
  const s = v as RiskState;
  // State written by a newer or tampered version must not throw here: keep only well-formed entries.
  s.n = s.n.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number').slice(-MAX_NETS);
  if (s.u !== undefined && !Array.isArray(s.u)) delete s.u;
  return s;
}

function recordId(key: string): string {
  return createHash('sha256').update(`sw-detector:${key}`).digest('base64url');
}

/** Add `add` to a windowed counter record by compare-and-set; the count after, or -1 under heavy contention. */
async function bump(store: SessionStore, id: string, now: number, windowMs: number, add: number): Promise<number> {
  for (let i = 0; i < 8; i++) {
    const cur = await store.get(id, now);
    if (!cur) {
      if (await store.create(newRecord({ id, now, expiresAt: now + windowMs, data: { n: add } }))) return add;
      continue;
    }
    const n = (typeof cur.data.n === 'number' ? cur.data.n : 0) + add;
    if (await store.update(nextVersion(cur, { data: { n } }), cur.version, now)) return n;
  }
  return -1;
}
