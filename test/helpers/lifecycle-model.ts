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
import { FakeClock, SECRET, nextCookie } from './core.js';
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
  const res = await w.manager.commit(s);
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

/** The user's session list (the per-user index) holds exactly the sessions the model has alive. */
async function listed(w: World, user: string): Promise<void> {
  const now = w.clock.t;
  const alive = w.lins.filter((L) => L.user === user && !L.ended && now < L.expires).length;
  expect((await w.manager.listUserSessions(user)).length, `sessions listed for ${user}`).toBe(alive);
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
      const w: World = { manager, clock, users: [`a-${id}`, `b-${id}`], toks: [], lins: [], n: 0, start: clock.t };
      await fc.asyncModelRun(() => ({ model: w, real: w }), cmds);
      // Finally every token ever issued, against the model.
      for (let t = 0; t < w.toks.length; t++) await visit(w, t);
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
