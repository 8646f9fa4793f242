/**
 * Model-based test of the session lifecycle (issue 9: "make the class impossible"). fast-check
 * generates random sequences of requests — create, load with any token ever issued, login as the
 * same or another user, second-factor steps, rotate, renew, destroy, "log out other devices",
 * "log out everywhere", touches, writes racing a rotation or a logout, and clock jumps across the
 * grace, touch, idle and absolute boundaries — runs them on a real store, and after every request
 * compares what the token reached with a small reference model of who is signed in, since when,
 * and until when.
 *
 * The model is exact (every store must agree with it to the millisecond), and beside it every load
 * is held to the invariants the model encodes, stated on their own so that a wrong model cannot
 * hide a hole:
 * - a token never reaches a session with newer authentication than the token was issued with;
 * - a token reaches only the user it was issued for (or nobody), and only its own session;
 * - no deadline moves without a credential: the absolute deadline a token sees is never later
 *   than the one it was issued with, and the idle deadline never passes the absolute one;
 * - nothing survives a logout, a destroy-all of its user, or "log out other devices";
 * - a token reached through the grace window can make no security decision.
 */
import * as fc from 'fast-check';
import { expect } from 'vitest';
import { SessionManager, type SessionStore } from '../../src/index.js';
import type { Session } from '../../src/core/session.js';
import { sha256Sync } from '../../src/crypto/node.js';
import { FakeClock, SECRET, nextCookie, setCookies } from './core.js';
import type { StoreFactory } from './stores.js';

const SEC = 1000;
const MIN = 60 * SEC;
export const IDLE = 10 * MIN;
export const ABS = 60 * MIN;
export const GRACE = 10 * SEC;
/** The manager's default touchAfter for a 10 min idle timeout: min(idle / 10, 60 s). */
const TOUCH_AFTER = MIN;

type Data = Record<string, unknown>;

/** One token ever issued, as the model knows it. */
interface Tok {
  cookie: string;
  lineage: number;
  /** What the token was issued with: the ceiling of what it may ever reach. */
  user: string | null;
  authTime: number | null;
  abs: number;
  /** current: the session's live token; renewed: superseded by renew() (grace); dead: never again. */
  kind: 'current' | 'renewed' | 'dead';
  graceUntil: number;
  successor: number;
}

/** One session (a chain of tokens), as the model knows it. */
interface Lin {
  user: string | null;
  pending: boolean;
  authTime: number | null;
  abs: number;
  lastSeen: number;
  expires: number;
  current: number;
  ended: boolean;
}

type Reach = { kind: 'direct' | 'grace'; lin: number } | { kind: 'none' };

export interface World {
  manager: SessionManager<Data>;
  clock: FakeClock;
  users: [string, string];
  toks: Tok[];
  lins: Lin[];
  /** Value written by the last data write, to tell writes apart. */
  n: number;
  start: number;
}

function reach(w: World, t: number): Reach {
  const tok = w.toks[t]!;
  const L = w.lins[tok.lineage]!;
  const now = w.clock.t;
  if (L.ended || now >= L.expires) return { kind: 'none' };
  if (tok.kind === 'current') return { kind: 'direct', lin: tok.lineage };
  if (tok.kind === 'renewed' && now < tok.graceUntil && tok.successor === L.current) return { kind: 'grace', lin: tok.lineage };
  return { kind: 'none' };
}

/** Load with token `t` and hold what it reached to the model and to the invariants. */
async function visit(w: World, t: number): Promise<{ s: Session<Data>; r: Reach }> {
  const tok = w.toks[t]!;
  const r = reach(w, t);
  const s = await w.manager.load({ cookie: tok.cookie, ip: '203.0.113.9', userAgent: 'model' });
  const now = w.clock.t;
  const label = `token #${t} (${tok.kind}) at +${now - w.start} ms`;
  // Invariants, independent of the model.
  if (s.userId !== null) expect(s.userId, label).toBe(tok.user);
  if (s.authTime !== null) {
    expect(tok.authTime, label).not.toBeNull();
    expect(s.authTime, `${label}: newer authentication than the token had`).toBeLessThanOrEqual(tok.authTime!);
  }
  if (s.absoluteExpiresAt !== null) {
    expect(s.absoluteExpiresAt, `${label}: absolute deadline moved without a credential`).toBeLessThanOrEqual(tok.abs);
    expect(s.absoluteExpiresAt).toBeGreaterThan(now);
    expect(s.expiresAt!).toBeLessThanOrEqual(s.absoluteExpiresAt);
  }
  const lin = s.get('lin');
  if (lin !== undefined) expect(lin, `${label}: reached another session`).toBe(tok.lineage);
  // The model, exactly.
  if (r.kind === 'none') {
    expect({ user: s.userId, lin, auth: s.isAuthenticated }, label).toEqual({ user: null, lin: undefined, auth: false });
  } else {
    const L = w.lins[r.lin]!;
    expect(
      { lin, user: s.userId, authTime: s.authTime, abs: s.absoluteExpiresAt, expires: s.expiresAt, authenticated: s.isAuthenticated, grace: s.superseded },
      label,
    ).toEqual({ lin: r.lin, user: L.user, authTime: L.authTime, abs: L.abs, expires: L.expires, authenticated: L.user !== null && !L.pending, grace: r.kind === 'grace' });
  }
  return { s, r };
}

/** The model's side of a commit that wrote data or touched the session. */
function activity(w: World, L: Lin): void {
  L.lastSeen = w.clock.t;
  L.expires = Math.min(w.clock.t + IDLE, L.abs);
}

async function commit(w: World, s: Session<Data>, r: Reach, wrote: boolean): Promise<string> {
  const L = r.kind === 'none' ? null : w.lins[r.lin]!;
  const touch = s.touchRequested || (L !== null && w.clock.t - L.lastSeen >= TOUCH_AFTER);
  const superseded = s.superseded;
  const res = await w.manager.commit(s);
  if (superseded) noToken(res.headers, 'commit');
  if (L && (wrote || touch)) activity(w, L);
  return nextCookie(res.headers);
}

/** Issue the model's side of a rotation of lineage `li` to the token in `cookie`. */
function rotated(w: World, li: number, cookie: string, kind: 'renewed' | 'dead', change: Partial<Lin> = {}): void {
  const L = w.lins[li]!;
  const old = w.toks[L.current]!;
  const now = w.clock.t;
  Object.assign(L, change);
  old.kind = kind;
  old.graceUntil = Math.min(now + GRACE, L.expires);
  old.successor = w.toks.length;
  L.current = w.toks.length;
  activity(w, L);
  w.toks.push({ cookie, lineage: li, user: L.user, authTime: L.authTime, abs: L.abs, kind: 'current', graceUntil: 0, successor: -1 });
}

function endLineage(w: World, li: number): void {
  w.lins[li]!.ended = true;
}

/** Store id of a token (what listSessions shows and destroySession takes). */
function idOf(cookie: string): string {
  return sha256Sync(cookie.split('=')[1]!.split('.')[0]!);
}

/** Ids of the sessions the model has alive for a user. */
function aliveIds(w: World, user: string): string[] {
  const now = w.clock.t;
  return w.lins.filter((L) => L.user === user && !L.ended && now < L.expires).map((L) => idOf(w.toks[L.current]!.cookie)).sort();
}

/** Invariant: the user's session list (the per-user index) is exactly the sessions alive — no more, no fewer. */
async function listed(w: World, user: string): Promise<void> {
  const ids = (await w.manager.listUserSessions(user)).map((d) => d.id).sort();
  expect(ids, `sessions listed for ${user}`).toEqual(aliveIds(w, user));
}

/** Invariant: a request that reached its record through a pointer never obtains a token. */
function noToken(headers: Array<[string, string]>, label: string): void {
  expect(setCookies(headers).filter((c) => c.value !== ''), `${label}: a superseded request obtained a token`).toEqual([]);
}

/** Invariant: none of these tokens reaches a session any more. */
async function reachNothing(w: World, cookies: string[], label: string): Promise<void> {
  for (const cookie of cookies) {
    const s = await w.manager.load({ cookie });
    expect({ user: s.userId, lin: s.get('lin') }, label).toEqual({ user: null, lin: undefined });
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

// ---------------------------------------------------------------------------------------------
// Commands. Each names its choices so a shrunk counterexample reads as a story.

abstract class Cmd implements fc.AsyncCommand<World, World> {
  check(_w: World): boolean {
    return true;
  }
  abstract run(w: World): Promise<void>;
  abstract toString(): string;
}

abstract class OnToken extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  override check(w: World): boolean {
    return w.toks.length > 0;
  }
  token(w: World): number {
    return this.pick % w.toks.length;
  }
}

/** A new visitor: an anonymous session with some data. */
class Create extends Cmd {
  async run(w: World): Promise<void> {
    const s = await w.manager.load({});
    const li = w.lins.length;
    s.set('lin', li);
    const cookie = nextCookie((await w.manager.commit(s)).headers);
    const now = w.clock.t;
    w.lins.push({ user: null, pending: false, authTime: null, abs: now + ABS, lastSeen: now, expires: Math.min(now + IDLE, now + ABS), current: w.toks.length, ended: false });
    w.toks.push({ cookie, lineage: li, user: null, authTime: null, abs: now + ABS, kind: 'current', graceUntil: 0, successor: -1 });
  }
  toString(): string {
    return 'Create';
  }
}

/** A request with an earlier token: reads, writes, or asks to stay signed in. */
class Visit extends OnToken {
  constructor(pick: number, readonly mode: 'read' | 'write' | 'touch') {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const { s, r } = await visit(w, this.token(w));
    if (r.kind !== 'none' && this.mode === 'write') s.set('n', ++w.n);
    if (r.kind !== 'none' && this.mode === 'touch') s.touch();
    await commit(w, s, r, r.kind !== 'none' && this.mode === 'write');
  }
  toString(): string {
    return `Visit(#${this.pick}, ${this.mode})`;
  }
}

/** Sign in (a fresh browser when `pick` is null), as the token's user, the other user, or pending a second factor. */
class Login extends Cmd {
  constructor(readonly pick: number | null, readonly who: 0 | 1, readonly pending: boolean) {
    super();
  }
  async run(w: World): Promise<void> {
    const user = w.users[this.who];
    let s: Session<Data>;
    let r: Reach;
    if (this.pick === null || w.toks.length === 0) {
      s = await w.manager.load({});
      r = { kind: 'none' };
    } else {
      ({ s, r } = await visit(w, this.pick % w.toks.length));
    }
    if (r.kind === 'grace') {
      // A superseded token cannot sign in, not even as the same user (issue 9 finding 1).
      await expectCode(s.login(user, this.pending ? { pending: 'mfa' } : {}), 'ERR_SESSION_SUPERSEDED');
      return;
    }
    const li = r.kind === 'direct' ? r.lin : w.lins.length;
    if (r.kind === 'none') s.set('lin', li);
    await s.login(user, this.pending ? { pending: 'mfa' } : {});
    const cookie = nextCookie((await w.manager.commit(s)).headers);
    const now = w.clock.t;
    const change = { user, pending: this.pending, authTime: now, abs: now + ABS };
    if (r.kind === 'direct') rotated(w, li, cookie, 'dead', change);
    else {
      w.lins.push({ ...change, lastSeen: now, expires: Math.min(now + IDLE, now + ABS), current: w.toks.length, ended: false });
      w.toks.push({ cookie, lineage: li, user, authTime: now, abs: now + ABS, kind: 'current', graceUntil: 0, successor: -1 });
    }
  }
  toString(): string {
    return `Login(${this.pick === null ? 'fresh' : `#${this.pick}`}, user ${this.who}${this.pending ? ', pending mfa' : ''})`;
  }
}

/** completeStep() (a second factor was verified), rotate() (privilege change) or renew() (periodic). */
class Rotation extends OnToken {
  constructor(pick: number, readonly op: 'completeStep' | 'rotate' | 'renew') {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const { s, r } = await visit(w, this.token(w));
    if (r.kind === 'none') return;
    const call = () => (this.op === 'completeStep' ? s.completeStep('otp') : this.op === 'rotate' ? s.rotate() : s.renew());
    if (r.kind === 'grace') {
      await expectCode(call(), 'ERR_SESSION_SUPERSEDED');
      return;
    }
    const L = w.lins[r.lin]!;
    if (this.op === 'completeStep' && L.user === null) return;
    await call();
    const cookie = nextCookie((await w.manager.commit(s)).headers);
    const now = w.clock.t;
    if (this.op === 'completeStep') rotated(w, r.lin, cookie, 'dead', { pending: false, authTime: now, abs: now + ABS });
    else rotated(w, r.lin, cookie, this.op === 'renew' ? 'renewed' : 'dead');
  }
  toString(): string {
    return `${this.op}(#${this.pick})`;
  }
}

/** Log out, "log out my other devices", or an administrator's "log out everywhere" for a user. */
class End extends OnToken {
  constructor(pick: number, readonly op: 'destroy' | 'others' | 'all') {
    super(pick);
  }
  async run(w: World): Promise<void> {
    if (this.op === 'all') {
      const user = w.users[this.pick % 2]!;
      await w.manager.destroyUserSessions(user);
      w.lins.forEach((L, i) => L.user === user && endLineage(w, i));
      return listed(w, user);
    }
    const { s, r } = await visit(w, this.token(w));
    if (this.op === 'destroy') {
      await s.destroy();
      await w.manager.commit(s);
      if (r.kind !== 'none') endLineage(w, r.lin);
      return;
    }
    const L = r.kind === 'none' ? null : w.lins[r.lin]!;
    if (!L || L.user === null || L.pending) return expectCode(s.destroyOtherSessions(), 'ERR_UNAUTHENTICATED');
    if (r.kind === 'grace') return expectCode(s.destroyOtherSessions(), 'ERR_SESSION_SUPERSEDED');
    await s.destroyOtherSessions();
    await commit(w, s, r, false);
    w.lins.forEach((o, i) => o.user === L.user && o !== L && endLineage(w, i));
    // The superseded tokens of this very session end too: they are "other" tokens of the user.
    for (const t of w.toks) if (t.lineage === (r as { lin: number }).lin && t.kind === 'renewed') t.kind = 'dead';
    await listed(w, L.user);
  }
  toString(): string {
    return this.op === 'all' ? `DestroyAll(user ${this.pick % 2})` : `${this.op === 'destroy' ? 'Destroy' : 'DestroyOthers'}(#${this.pick})`;
  }
}

/**
 * Two requests with the same token at once: one writes a value, the other renews, rotates,
 * signs in again or logs out. The write must never be lost to a renewal, never reach a session
 * raised by a login, and never resurrect a logout.
 */
class Race extends OnToken {
  constructor(pick: number, readonly op: 'write' | 'renew' | 'rotate' | 'login' | 'destroy') {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const t = this.token(w);
    const r = reach(w, t);
    if (r.kind !== 'direct') return;
    const a = (await visit(w, t)).s;
    const b = (await visit(w, t)).s;
    const L = w.lins[r.lin]!;
    const mine = ++w.n;
    a.set('n', mine);
    let cookie = '';
    const other = async (): Promise<void> => {
      if (this.op === 'write') b.set('m', mine);
      else if (this.op === 'renew') await b.renew();
      else if (this.op === 'rotate') await b.rotate();
      else if (this.op === 'login') await b.login(L.user ?? w.users[0]);
      else await b.destroy();
      cookie = nextCookie((await w.manager.commit(b)).headers);
    };
    await Promise.all([w.manager.commit(a), other()]);
    const now = w.clock.t;
    if (this.op === 'destroy') return endLineage(w, r.lin);
    if (this.op === 'write') activity(w, L);
    else if (this.op === 'login') rotated(w, r.lin, cookie, 'dead', { user: L.user ?? w.users[0], pending: false, authTime: now, abs: now + ABS });
    else rotated(w, r.lin, cookie, this.op === 'renew' ? 'renewed' : 'dead');
    activity(w, L);
    const after = (await visit(w, L.current)).s;
    if (this.op === 'write') expect({ n: after.get('n'), m: after.get('m') }, 'concurrent writes to different keys both kept').toEqual({ n: mine, m: mine });
    if (this.op === 'renew' || this.op === 'rotate') expect(after.get('n'), `a write racing ${this.op}() is kept`).toBe(mine);
    if (this.op === 'login') expect(after.get('n'), 'a write from before a login never reaches the signed-in session').toBeUndefined();
  }
  toString(): string {
    return `Race(#${this.pick}, write ‖ ${this.op})`;
  }
}

/**
 * A logout, or "log out everywhere" for the user, racing a renewal, rotation, step-up login or
 * write with the same signed-in token. Whatever the interleaving, the session ends: no token the
 * racing request was issued may reach anything (issue 9 findings 2 and 5).
 */
class EndRace extends OnToken {
  constructor(pick: number, readonly end: 'destroy' | 'all', readonly op: 'write' | 'renew' | 'rotate' | 'login') {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const t = this.token(w);
    const r = reach(w, t);
    // Signed-in sessions only: a login racing the logout of an anonymous session may rightly win.
    if (r.kind !== 'direct' || w.lins[r.lin]!.user === null) return;
    const L = w.lins[r.lin]!;
    const user = L.user!;
    const a = (await visit(w, t)).s;
    const b = (await visit(w, t)).s;
    let cookie = '';
    const ending = async (): Promise<void> => {
      if (this.end === 'all') await w.manager.destroyUserSessions(user);
      else {
        await a.destroy();
        await w.manager.commit(a);
      }
    };
    const racing = async (): Promise<void> => {
      try {
        if (this.op === 'write') b.set('n', ++w.n);
        else if (this.op === 'renew') await b.renew();
        else if (this.op === 'rotate') await b.rotate();
        else await b.login(user);
        cookie = nextCookie((await w.manager.commit(b)).headers);
      } catch (e) {
        // Losing to the logout is the one acceptable failure.
        expect(e).toMatchObject({ code: 'ERR_SESSION_DESTROYED' });
      }
    };
    await Promise.all([ending(), racing()]);
    if (this.end === 'all') w.lins.forEach((o, i) => o.user === user && endLineage(w, i));
    else endLineage(w, r.lin);
    if (cookie) w.toks.push({ cookie, lineage: r.lin, user, authTime: this.op === 'login' ? w.clock.t : L.authTime, abs: this.op === 'login' ? w.clock.t + ABS : L.abs, kind: 'dead', graceUntil: 0, successor: -1 });
    await listed(w, user);
  }
  toString(): string {
    return `Race(#${this.pick}, ${this.end === 'all' ? 'destroyAll' : 'destroy'} ‖ ${this.op})`;
  }
}

/**
 * A new sign-in racing "log out everywhere" for the same user. Either may win, but the user's
 * session list must agree with what the new token reaches: a session nobody can list is one
 * "log out everywhere" can never end (issue 9 finding 2).
 */
class LoginRace extends Cmd {
  constructor(readonly who: 0 | 1) {
    super();
  }
  async run(w: World): Promise<void> {
    const user = w.users[this.who];
    const li = w.lins.length;
    const s = await w.manager.load({});
    s.set('lin', li);
    let cookie = '';
    await Promise.all([
      (async () => {
        await s.login(user);
        cookie = nextCookie((await w.manager.commit(s)).headers);
      })(),
      w.manager.destroyUserSessions(user),
    ]);
    const now = w.clock.t;
    w.lins.forEach((o, i) => o.user === user && endLineage(w, i));
    // Which way the race went is up to the store; the model takes the outcome from the new token.
    const won = (await w.manager.load({ cookie })).userId === user;
    w.lins.push({ user, pending: false, authTime: now, abs: now + ABS, lastSeen: now, expires: Math.min(now + IDLE, now + ABS), current: w.toks.length, ended: !won });
    w.toks.push({ cookie, lineage: li, user, authTime: now, abs: now + ABS, kind: 'current', graceUntil: 0, successor: -1 });
    await listed(w, user);
  }
  toString(): string {
    return `Race(login as user ${this.who} ‖ destroyAll(user ${this.who}))`;
  }
}

type RotateOp = 'renew' | 'rotate' | 'login';

/** Run a rotation on a request; a login signs in as the session's own user (or user 0 before any). */
async function rotateBy(w: World, s: Session<Data>, op: RotateOp | 'completeStep', L: Lin): Promise<void> {
  if (op === 'renew') await s.renew();
  else if (op === 'rotate') await s.rotate();
  else if (op === 'completeStep') await s.completeStep('otp');
  else await s.login(L.user ?? w.users[0]);
}

/** The model's side of a rotation `op` of lineage `li` that issued `cookie`. */
function rotatedBy(w: World, li: number, op: RotateOp | 'completeStep', cookie: string): void {
  const L = w.lins[li]!;
  const now = w.clock.t;
  if (op === 'login') rotated(w, li, cookie, 'dead', { user: L.user ?? w.users[0], pending: false, authTime: now, abs: now + ABS });
  else if (op === 'completeStep') rotated(w, li, cookie, 'dead', { pending: false, authTime: now, abs: now + ABS });
  else rotated(w, li, cookie, op === 'renew' ? 'renewed' : 'dead');
}

/** A new browser signs in as `user`; returns its token. */
async function freshLogin(w: World, user: string): Promise<number> {
  const s = await w.manager.load({});
  const li = w.lins.length;
  s.set('lin', li);
  await s.login(user);
  const cookie = nextCookie((await w.manager.commit(s)).headers);
  const now = w.clock.t;
  w.lins.push({ user, pending: false, authTime: now, abs: now + ABS, lastSeen: now, expires: Math.min(now + IDLE, now + ABS), current: w.toks.length, ended: false });
  w.toks.push({ cookie, lineage: li, user, authTime: now, abs: now + ABS, kind: 'current', graceUntil: 0, successor: -1 });
  return w.toks.length - 1;
}

/** Current tokens of fully signed-in sessions: the ones that may end other sessions of their user. */
function signedInTokens(w: World): number[] {
  return w.toks.flatMap((t, i) => {
    const r = reach(w, i);
    const L = w.lins[t.lineage]!;
    return r.kind === 'direct' && L.user !== null && !L.pending ? [i] : [];
  });
}

/**
 * "Sign out that device" (destroySession of another session of the same user, by the id the list
 * shows) or "log out my other devices", racing the target's own renew/rotate/login — or after the
 * target renewed since the list was read (issue 20 finding 1). Revoking is as strong as logout.
 */
class Revoke extends Cmd {
  constructor(readonly actor: number, readonly target: number, readonly mode: 'one' | 'others', readonly race: 'none' | RotateOp | 'renewedBefore') {
    super();
  }
  async run(w: World): Promise<void> {
    // Without a signed-in device, or another device of its user, a new browser signs in first.
    const actors = signedInTokens(w);
    const a = actors.length ? actors[this.actor % actors.length]! : await freshLogin(w, w.users[this.actor % 2]!);
    const me = w.toks[a]!.lineage;
    const user = w.lins[me]!.user!;
    const others = (): number[] => w.lins.flatMap((L, i) => (L.user === user && i !== me && !L.ended && w.clock.t < L.expires ? [i] : []));
    if (others().length === 0) await freshLogin(w, user);
    const { s } = await visit(w, a);
    const shown = (await s.listSessions()).map((d) => d.id).sort();
    expect(shown, `listSessions of user ${user}`).toEqual(aliveIds(w, user));
    const targets = others();
    const ti = targets[this.target % targets.length]!;
    const T = w.lins[ti]!;
    const id = idOf(w.toks[T.current]!.cookie);
    if (this.race === 'renewedBefore') {
      const d = (await visit(w, T.current)).s;
      await d.renew();
      rotatedBy(w, ti, 'renew', nextCookie((await w.manager.commit(d)).headers));
    }
    const device = this.race === 'none' || this.race === 'renewedBefore' ? null : (await visit(w, T.current)).s;
    let dodged = '';
    const revoke = this.mode === 'one' ? s.destroySession(id) : s.destroyOtherSessions();
    const racing = async (): Promise<void> => {
      if (!device) return;
      try {
        await rotateBy(w, device, this.race as RotateOp, T);
        dodged = nextCookie((await w.manager.commit(device)).headers);
      } catch (e) {
        // Losing to the revocation is the one acceptable failure.
        expect(e).toMatchObject({ code: 'ERR_SESSION_DESTROYED' });
      }
    };
    const [result] = await Promise.all([revoke, racing()]);
    if (this.mode === 'one') expect(result, 'destroySession of a listed session').toBe(true);
    const ended = this.mode === 'one' ? [ti] : w.lins.flatMap((L, i) => (L.user === user && i !== me ? [i] : []));
    for (const i of ended) endLineage(w, i);
    if (this.mode === 'others') for (const t of w.toks) if (t.lineage === me && t.kind === 'renewed') t.kind = 'dead';
    if (dodged) w.toks.push({ cookie: dodged, lineage: ti, user, authTime: T.authTime, abs: T.abs, kind: 'dead', graceUntil: 0, successor: -1 });
    // Stated on its own: after a revocation returned, no token that ever reached an ended session reaches anything.
    await reachNothing(w, w.toks.filter((t) => ended.includes(t.lineage)).map((t) => t.cookie), `after ${this}`);
    await listed(w, user);
  }
  toString(): string {
    return `Revoke(#${this.actor} ${this.mode === 'one' ? `signs out device ${this.target}` : 'signs out other devices'}${this.race === 'none' ? '' : ` ‖ ${this.race}`})`;
  }
}

/**
 * A request loaded the token, then another request with the same token rotated it (every pointer
 * kind: grace, privilege, login, second factor). The late request then writes, updates or reloads
 * — following the pointer where that is allowed — and tries to rotate, sign in, log out or just
 * commit (issue 20 finding 2 and the pre-login logout). Whatever it does, it obtains no token; its
 * logout ends the session only if the session is still its owner's.
 */
class Stale extends OnToken {
  constructor(
    pick: number,
    readonly pointer: RotateOp | 'completeStep',
    readonly follow: 'update' | 'reload' | 'write' | 'none',
    readonly then: RotateOp | 'destroy' | 'commit',
  ) {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const t = this.token(w);
    const r = reach(w, t);
    if (r.kind !== 'direct') return;
    const li = r.lin;
    const L = w.lins[li]!;
    if (this.pointer === 'completeStep' && L.user === null) return;
    const owner = L.user;
    const stale = (await visit(w, t)).s;
    const victim = (await visit(w, t)).s;
    await rotateBy(w, victim, this.pointer, L);
    rotatedBy(w, li, this.pointer, nextCookie((await w.manager.commit(victim)).headers));
    // A write of the same user follows a renewal or a privilege change; nothing crosses a login.
    const follows = this.pointer === 'renew' || this.pointer === 'rotate';
    const label = `${this}`;
    if (this.follow === 'update' || this.follow === 'reload') {
      const n = ++w.n;
      const act = this.follow === 'update' ? stale.update((d) => void (d.n = n)) : stale.reload();
      if (!follows) await expectCode(act, 'ERR_SESSION_DESTROYED');
      else {
        await act;
        if (this.follow === 'update') activity(w, L);
        expect({ lin: stale.get('lin'), user: stale.userId, superseded: stale.superseded }, label).toEqual({ lin: li, user: owner, superseded: true });
      }
    } else if (this.follow === 'write') {
      stale.set('n', ++w.n);
      const h = (await w.manager.commit(stale)).headers;
      // Dropped or landed, a write of a superseded request never touches the cookie.
      expect(setCookies(h), label).toEqual([]);
      if (follows) activity(w, L);
    }
    if (stale.authTime !== null) expect(stale.authTime, `${label}: newer authentication than the token had`).toBeLessThanOrEqual(w.toks[t]!.authTime!);
    if (this.then === 'commit') return noToken((await w.manager.commit(stale)).headers, label);
    if (this.then === 'destroy') {
      await stale.destroy();
      const h = (await w.manager.commit(stale)).headers;
      // A logout follows its own user's pointers; a pre-login request must not end the login.
      const sameOwner = w.lins[li]!.user === owner;
      if (sameOwner) endLineage(w, li);
      expect(setCookies(h).map((c) => c.value), `${label}: cookie cleared`).toEqual(sameOwner ? [''] : []);
      return;
    }
    const op = this.then;
    await expect(rotateBy(w, stale, op, L), label).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_SESSION_(SUPERSEDED|DESTROYED)$/) });
    noToken((await w.manager.commit(stale)).headers, label);
  }
  toString(): string {
    return `Stale(#${this.pick}: ${this.pointer} elsewhere, then ${this.follow}, then ${this.then})`;
  }
}

/**
 * Two requests with the same token rotate it at once (renew ‖ renew, renew ‖ rotate, ...): one
 * wins, the other is superseded — a token has at most one successor, so a logout of it ends the
 * session and a one-time value in it stays one-time.
 */
class Fork extends OnToken {
  constructor(pick: number, readonly ops: [RotateOp, RotateOp]) {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const t = this.token(w);
    const r = reach(w, t);
    if (r.kind !== 'direct') return;
    const L = w.lins[r.lin]!;
    const reqs = [(await visit(w, t)).s, (await visit(w, t)).s];
    const settled = await Promise.allSettled(
      reqs.map(async (s, i) => {
        await rotateBy(w, s, this.ops[i]!, L);
        return nextCookie((await w.manager.commit(s)).headers);
      }),
    );
    const won = settled.flatMap((x, i) => (x.status === 'fulfilled' ? [i] : []));
    expect(won, `${this}: exactly one rotation wins`).toHaveLength(1);
    for (const x of settled) if (x.status === 'rejected') expect(x.reason).toMatchObject({ code: 'ERR_SESSION_SUPERSEDED' });
    const i = won[0]!;
    rotatedBy(w, r.lin, this.ops[i]!, (settled[i] as PromiseFulfilledResult<string>).value);
    noToken((await w.manager.commit(reqs[1 - i]!)).headers, `${this}`);
    const user = w.lins[r.lin]!.user;
    if (user !== null) await listed(w, user);
  }
  toString(): string {
    return `Fork(#${this.pick}: ${this.ops[0]} ‖ ${this.ops[1]})`;
  }
}

/** Hostile text: what some store cannot keep is refused on every store, the rest round-trips on every store. */
const HOSTILE: ReadonlyArray<{ text: string; storable: boolean; userId: boolean }> = [
  { text: 'lone \ud800', storable: false, userId: false },
  { text: '\udc00 reversed', storable: false, userId: false },
  { text: 'nul \u0000', storable: false, userId: false },
  { text: 'x'.repeat(10_000), storable: true, userId: false },
  { text: '__proto__', storable: true, userId: true },
  { text: 'constructor', storable: true, userId: true },
  { text: 'emoji 😀 \ufffd', storable: true, userId: true },
];

class Hostile extends OnToken {
  constructor(pick: number, readonly which: number, readonly where: 'login' | 'key' | 'value') {
    super(pick);
  }
  async run(w: World): Promise<void> {
    const h = HOSTILE[this.which % HOSTILE.length]!;
    const { s, r } = await visit(w, this.token(w));
    if (this.where === 'login') {
      // Accepted userIds are exercised by the run's second user; here only what must be refused.
      if (h.userId || r.kind === 'grace') return;
      await expectCode(s.login(h.text), 'ERR_INVALID_INPUT');
      await commit(w, s, r, false);
      return;
    }
    if (r.kind === 'none') return;
    const key = this.where === 'key' ? h.text : 'hostile';
    const value = this.where === 'key' ? 1 : h.text;
    // Setting the value a key already holds changes nothing, so nothing is written (the engine
    // detects changes; only a real one renews the idle deadline).
    const changed = JSON.stringify(s.get(key)) !== JSON.stringify(value);
    s.set(key, value);
    if (!h.storable) {
      await expectCode(w.manager.commit(s), 'ERR_INVALID_INPUT');
      return;
    }
    await commit(w, s, r, changed);
    const back = await w.manager.load({ cookie: w.toks[this.token(w)]!.cookie });
    expect(back.get(key), `${this}: round trip`).toEqual(value);
  }
  toString(): string {
    return `Hostile(#${this.pick}, ${this.where} ${JSON.stringify(HOSTILE[this.which % HOSTILE.length]!.text.slice(0, 16))})`;
  }
}

/** The clock jumps; the steps straddle grace (10 s), touch (60 s), idle (10 min) and absolute (60 min). */
class Advance extends Cmd {
  constructor(readonly ms: number) {
    super();
  }
  async run(w: World): Promise<void> {
    w.clock.advance(this.ms);
  }
  toString(): string {
    return `Advance(${this.ms} ms)`;
  }
}

const STEPS = [1, 999, 5_000, 9_999, 10_000, 10_001, 59_999, 60_000, 4 * MIN, 9 * MIN, 10 * MIN, 11 * MIN, 30 * MIN, 61 * MIN];

export function lifecycleCommands(maxCommands: number) {
  const pick = fc.nat(1000);
  const visit = fc.tuple(pick, fc.constantFrom('read', 'write', 'touch') as fc.Arbitrary<'read' | 'write' | 'touch'>).map(([p, m]) => new Visit(p, m));
  const rotateOp = fc.constantFrom('renew', 'rotate', 'login') as fc.Arbitrary<RotateOp>;
  const rotation = fc.tuple(pick, fc.constantFrom('completeStep', 'rotate', 'renew') as fc.Arbitrary<'completeStep' | 'rotate' | 'renew'>).map(([p, op]) => new Rotation(p, op));
  // Visits and rotations are listed twice: they are most of real traffic and feed the grace cases.
  return fc.commands<World, World, false>(
    [
      fc.constant(new Create()),
      visit,
      visit,
      rotation,
      fc.tuple(fc.option(pick, { nil: null }), fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>, fc.boolean()).map(([p, who, pending]) => new Login(p, who, pending)),
      rotation,
      fc.tuple(pick, fc.constantFrom('destroy', 'others', 'all') as fc.Arbitrary<'destroy' | 'others' | 'all'>).map(([p, op]) => new End(p, op)),
      fc.tuple(pick, fc.constantFrom('write', 'renew', 'rotate', 'login', 'destroy') as fc.Arbitrary<'write' | 'renew' | 'rotate' | 'login' | 'destroy'>).map(([p, op]) => new Race(p, op)),
      fc.tuple(pick, fc.constantFrom('destroy', 'all') as fc.Arbitrary<'destroy' | 'all'>, fc.constantFrom('write', 'renew', 'rotate', 'login') as fc.Arbitrary<'write' | 'renew' | 'rotate' | 'login'>).map(
        ([p, end, op]) => new EndRace(p, end, op),
      ),
      fc.constantFrom(0, 1).map((who) => new LoginRace(who as 0 | 1)),
      fc.tuple(pick, pick, fc.constantFrom('one', 'others') as fc.Arbitrary<'one' | 'others'>, fc.constantFrom('none', 'renew', 'rotate', 'login', 'renewedBefore') as fc.Arbitrary<'none' | RotateOp | 'renewedBefore'>).map(
        ([a, t, mode, race]) => new Revoke(a, t, mode, race),
      ),
      fc.tuple(
        pick,
        fc.constantFrom('renew', 'rotate', 'login', 'completeStep') as fc.Arbitrary<RotateOp | 'completeStep'>,
        fc.constantFrom('update', 'reload', 'write', 'none') as fc.Arbitrary<'update' | 'reload' | 'write' | 'none'>,
        fc.constantFrom('renew', 'rotate', 'login', 'destroy', 'commit') as fc.Arbitrary<RotateOp | 'destroy' | 'commit'>,
      ).map(([p, ptr, follow, then]) => new Stale(p, ptr, follow, then)),
      fc.tuple(pick, rotateOp, rotateOp).map(([p, a, b]) => new Fork(p, [a, b])),
      fc.tuple(pick, fc.nat(HOSTILE.length - 1), fc.constantFrom('login', 'key', 'value') as fc.Arbitrary<'login' | 'key' | 'value'>).map(([p, i, where]) => new Hostile(p, i, where)),
      fc.constantFrom(...STEPS).map((ms) => new Advance(ms)),
    ],
    { maxCommands, size: 'medium' },
  );
}

/** How many sequences: thousands in `npm test`, many more under `npm run fuzz`. */
export function runs(base: number): number {
  return process.env.SESSIONWARD_FUZZ === 'long' ? base * 20 : base;
}

/**
 * Run `numRuns` random sequences on one store. The clock is shared by the whole run and jumps a day
 * between sequences, and each sequence has its own users, so sequences never see each other.
 */
export async function checkLifecycle(store: SessionStore, clock: FakeClock, numRuns: number, seed?: number): Promise<void> {
  let seq = 0;
  await fc.assert(
    fc.asyncProperty(lifecycleCommands(24), async (cmds) => {
      clock.advance(24 * 3_600_000);
      const id = `${process.pid}-${Date.now()}-${seq++}`;
      const manager = new SessionManager<Data>({
        store,
        secrets: [SECRET],
        clock: clock.now,
        idleTimeout: IDLE,
        absoluteTimeout: ABS,
        rotationGrace: GRACE,
        preLoginKeys: ['lin'],
      });
      // The second user's id is hostile but well-formed: a key of Object.prototype, an emoji, a
      // replacement character, 150 characters — through every operation of every store.
      const w: World = { manager, clock, users: [`a-${id}`, `__proto__ 😀\ufffd ${'b'.repeat(100)} ${id}`], toks: [], lins: [], n: 0, start: clock.t };
      await fc.asyncModelRun(() => ({ model: w, real: w }), cmds);
      // Finally every token ever issued, and each user's session list, against the model.
      for (let t = 0; t < w.toks.length; t++) await visit(w, t);
      for (const user of w.users) await listed(w, user);
    }),
    { numRuns, ...(seed === undefined ? {} : { seed }) },
  );
}

/** For the per-store test files: one store, opened once. */
export async function withStore(factory: StoreFactory, fn: (store: SessionStore, clock: FakeClock) => Promise<void>): Promise<void> {
  const clock = new FakeClock(Date.now());
  const store = await factory.open(clock.now);
  try {
    await fn(store, clock);
  } finally {
    await factory.close();
  }
}
