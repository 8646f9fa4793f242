/** Sign-up, sign-in (password, then optional TOTP), sign-out and step-up re-authentication. */
import type { AppRouter } from '../lib/app.js';
import type { Ctx } from '../lib/context.js';
import { normaliseEmail } from '../lib/accounts.js';
import { passwordProblem } from '../lib/passwords.js';
import { verifyTotp } from '../lib/totp.js';
import { signinPage, signupPage, totpPage, reauthPage } from '../views/auth.js';
import { duration } from '../views/format.js';
import { release, reserve, type Charge } from '../lib/ratelimit.js';

/** Only paths of this app's own pages: never an open redirect. */
const NEXT_RE = /^\/(?:account|sessions)(?:\/[a-z0-9-]+)*$/;

function safeNext(v: string | null): string {
  return v && NEXT_RE.test(v) ? v : '/account';
}

/** Data of the session that survives a re-authentication (login drops everything else). */
const KEEP_ON_REAUTH = ['gen', 'rotations', 'risk', 'totpPending'];

/**
 * A sign-in attempt as the throttles see it. A browser that presents this account's device cookie
 * pays only for its own failures; any other pays per (account, address), per address, and shares
 * one budget per account with every other unknown device. So a guesser slows itself and, at worst,
 * unknown devices, but never the owner's own browser (OWASP device cookies).
 */
interface Attempt {
  account: string;
  device: string | null;
  /** Undefined when the adapter cannot see the address: such requests are never pooled by address. */
  ip: string | undefined;
}

function attempt(ctx: Ctx, account: string): Attempt {
  return { account, device: ctx.app.devices.read(ctx.req, account), ip: ctx.app.sessions.requestInfo(ctx.req).ip };
}

/** The throttles one sign-in attempt is counted against. */
function charges(ctx: Ctx, a: Attempt): Charge[] {
  const l = ctx.app.limits;
  if (a.device) return [[l.device, a.device]];
  return [[l.untrusted, a.account], ...(a.ip ? ([[l.source, `${a.account}\n${a.ip}`], [l.ip, a.ip]] as Charge[]) : [])];
}

/** A completed sign-in: this browser becomes a known device of the account. */
function signedIn(ctx: Ctx, email: string, a?: Attempt): void {
  if (a?.device) ctx.app.limits.device.reset(a.device);
  else if (a?.ip) ctx.app.limits.source.reset(`${a.account}\n${a.ip}`);
  ctx.res.appendHeader('set-cookie', ctx.app.devices.issue(email));
}

function waitText(seconds: number): string {
  return seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

async function rateLimited(ctx: Ctx, seconds: number, page: 'signin' | 'totp' | 'reauth', email = ''): Promise<void> {
  // The account under attack, for the dashboard's top failing accounts (a registered one only).
  const target = page === 'signin' ? targetOf(ctx, email) : undefined;
  await ctx.event('signin.rate_limited', { reason: `retry in ${seconds} s`, ...(target ? { userId: target } : {}) });
  ctx.res.setHeader('retry-after', String(seconds));
  if (ctx.wantsJson) return ctx.json(429, { error: 'ERR_THROTTLED' });
  const error = `Too many failed attempts. Try again in ${waitText(seconds)}.${page === 'signin' ? ' A browser you have signed in with before is not held up by other people\'s attempts.' : ''}`;
  if (page === 'totp') return ctx.page('Second step', (v) => totpPage(v, { error }), { status: 429 });
  if (page === 'reauth') return ctx.page('Confirm it is you', (v) => reauthPage(v, { error, next: '/account', needsCode: false }), { status: 429 });
  return ctx.page('Sign in', (v) => signinPage(v, { email, error, demoEmail: ctx.app.config.demo?.email }), { status: 429, forms: true, nav: 'signin' });
}

/**
 * The registered account a sign-in attempt named, or undefined. Unknown emails are not recorded
 * anywhere: they are someone's typo or a guess, and the dashboard must not collect them.
 */
function targetOf(ctx: Ctx, raw: string): string | undefined {
  const email = normaliseEmail(raw);
  return (email && ctx.app.accounts.byEmail(email)?.id) || undefined;
}

export function authRoutes(r: AppRouter): void {
  r.add('GET', '/', async (ctx) => ctx.redirect(ctx.session.isAuthenticated ? '/account' : '/signin'), {});

  r.add(
    'GET',
    '/signin',
    async (ctx) => {
      if (ctx.session.isAuthenticated) return ctx.redirect('/account');
      const reason = ctx.url.searchParams.get('reason');
      const info =
        reason === 'idle'
          ? `You were signed out after ${duration(ctx.app.config.idleMs)} without activity.`
          : reason === 'signed-out'
            ? 'You have signed out. Your session was deleted on the server.'
            : reason === 'deleted'
              ? 'Your account was deleted and all its sessions were ended.'
              : reason === 'signed-up'
                ? 'If this email can be used, your account is ready. Sign in with it and your new password.'
                : null;
      return ctx.page('Sign in', (v) => signinPage(v, { info, demoEmail: ctx.app.config.demo?.email }), { forms: true, nav: 'signin' });
    },
    {},
  );

  r.add(
    'POST',
    '/signin',
    async (ctx) => {
      const raw = ctx.field('email');
      const email = normaliseEmail(raw);
      const password = ctx.form.get('password') ?? '';
      const a = attempt(ctx, email ?? raw.toLowerCase());
      // Counted as a failure before scrypt runs, in the same tick as the check (see reserve()).
      const charged = charges(ctx, a);
      const wait = Math.ceil(reserve(charged) / 1000);
      if (wait > 0) return rateLimited(ctx, wait, 'signin', raw);
      const user = email ? await ctx.app.accounts.authenticate(email, password.slice(0, 256)) : null;
      if (!user) {
        const target = targetOf(ctx, raw);
        await ctx.event('signin.failure', { reason: 'wrong email or password', ...(target ? { userId: target } : {}) });
        return ctx.page('Sign in', (v) => signinPage(v, { email: raw, error: 'Email or password is wrong.', demoEmail: ctx.app.config.demo?.email }), {
          status: 401,
          forms: true,
          nav: 'signin',
        });
      }
      release(charged);
      if (user.totpSecret) {
        // SEC-17: password done, second factor not — half-authenticated until completeStep().
        await ctx.session.login(user.id, { pending: 'mfa', amr: ['pwd'] });
        ctx.noteRotation('password accepted, code pending');
        await ctx.event('signin.password_ok', { userId: user.id });
        return ctx.redirect('/signin/2fa');
      }
      // SEC-15: a new token at sign-in; the pre-login token stops working.
      await ctx.session.login(user.id, { amr: ['pwd'] });
      signedIn(ctx, user.email, a);
      ctx.noteRotation('sign-in');
      await ctx.event('signin.success', { userId: user.id, reason: 'password' });
      return ctx.redirect('/account');
    },
    {},
  );

  r.add(
    'GET',
    '/signup',
    async (ctx) => {
      if (ctx.session.isAuthenticated) return ctx.redirect('/account');
      return ctx.page('Create an account', (v) => signupPage(v, { demoEmail: ctx.app.config.demo?.email }), { forms: true, nav: 'signup' });
    },
    {},
  );

  r.add(
    'POST',
    '/signup',
    async (ctx) => {
      const raw = ctx.field('email');
      const email = normaliseEmail(raw);
      const password = ctx.form.get('password') ?? '';
      const again = (error: string, status = 400) =>
        ctx.page('Create an account', (v) => signupPage(v, { email: raw, error, demoEmail: ctx.app.config.demo?.email }), { status, forms: true, nav: 'signup' });
      // Per address, checked before anything else: each sign-up costs one scrypt and, through a
      // later sign-in with the chosen password, one probe of whether the email was free.
      const ip = ctx.app.sessions.requestInfo(ctx.req).ip;
      const wait = ip ? Math.ceil(ctx.app.limits.signup.retryAfter(ip) / 1000) : 0;
      if (wait > 0) {
        await ctx.event('signup.rate_limited', { reason: `retry in ${wait} s` });
        ctx.res.setHeader('retry-after', String(wait));
        if (ctx.wantsJson) return ctx.json(429, { error: 'ERR_THROTTLED' });
        return again(`Too many sign-ups from your network. Try again in ${waitText(wait)}.`, 429);
      }
      // Form mistakes say nothing about other people's accounts and do not use up the budget.
      if (!email) return again('Enter a valid email address.');
      const problem = passwordProblem(password);
      if (problem) return again(problem);
      if (password !== ctx.form.get('confirm')) return again('The two passwords differ.');
      if (ip) ctx.app.limits.signup.fail(ip);
      // Registered or not, the same work (create() hashes before it tries the insert) and the same
      // answer: no sign-in, no session write, one redirect. The owner's account is not touched; a
      // new account waits for its first sign-in (docs/reference-app.md, "Sign-up").
      const user = await ctx.app.accounts.create(email, password);
      if (user) await ctx.event('account.created', { userId: user.id });
      else await ctx.event('signup.existing_email', { userId: ctx.app.accounts.byEmail(email)?.id ?? null, reason: 'sign-up for a registered email' });
      return ctx.redirect('/signin?reason=signed-up');
    },
    {},
  );

  r.add('GET', '/signin/2fa', async (ctx) => ctx.page('Second step', (v) => totpPage(v, {})), { auth: 'pending' });

  r.add(
    'POST',
    '/signin/2fa',
    async (ctx) => {
      const user = ctx.app.accounts.byId(ctx.session.userId!);
      if (!user || !user.totpSecret) {
        await ctx.session.destroy();
        return ctx.redirect('/signin');
      }
      const wait = Math.ceil(ctx.app.limits.totp.retryAfter(user.id) / 1000);
      if (wait > 0) return rateLimited(ctx, wait, 'totp');
      const step = verifyTotp(user.totpSecret, ctx.field('code').trim(), ctx.app.clock(), user.totpLastStep);
      if (step === null || !ctx.app.accounts.useTotpStep(user.id, step)) {
        ctx.app.limits.totp.fail(user.id);
        await ctx.event('mfa.failure', { userId: user.id, reason: 'wrong or reused code' });
        return ctx.page('Second step', (v) => totpPage(v, { error: 'That code is not right (or was used already). Try the next one.' }), { status: 401 });
      }
      ctx.app.limits.totp.reset(user.id);
      // SEC-16: the second factor raises privilege, so the token rotates again.
      await ctx.session.completeStep('otp');
      signedIn(ctx, user.email);
      ctx.noteRotation('second factor');
      await ctx.event('signin.success', { userId: user.id, reason: 'password + TOTP' });
      return ctx.redirect('/account');
    },
    { auth: 'pending' },
  );

  r.add(
    'POST',
    '/signout',
    async (ctx) => {
      const idle = ctx.form.get('reason') === 'idle';
      const hadUser = ctx.session.userId !== null;
      if (hadUser && idle) await ctx.event('session.idle_signout', { reason: 'browser reached the idle timeout' });
      // SEC-36: deletes the server record; commit clears the cookie with Max-Age=0.
      await ctx.session.destroy();
      if (ctx.wantsJson) return ctx.json(200, { ok: true });
      return ctx.redirect(`/signin?reason=${idle ? 'idle' : 'signed-out'}`);
    },
    { csrf: 'if-signed-in' },
  );

  r.add(
    'GET',
    '/reauth',
    async (ctx) => {
      const next = safeNext(ctx.url.searchParams.get('next'));
      return ctx.page('Confirm it is you', (v) => reauthPage(v, { next, needsCode: Boolean(ctx.user!.totpSecret) }));
    },
    // The detector sends a session here (step-up): it must be able to arrive.
    { auth: 'user', detect: false },
  );

  r.add(
    'POST',
    '/reauth',
    async (ctx) => {
      const user = ctx.user!;
      const next = safeNext(ctx.form.get('next'));
      // Counted per user, apart from sign-in: strangers guessing at the email cannot block step-up.
      // Reserved before scrypt, as at sign-in: a burst cannot outrun the count.
      const wait = Math.ceil(reserve([[ctx.app.limits.reauth, user.id]]) / 1000);
      if (wait > 0) return rateLimited(ctx, wait, 'reauth');
      let ok = await ctx.app.accounts.checkPassword(user, (ctx.form.get('password') ?? '').slice(0, 256));
      if (ok && user.totpSecret) {
        const step = verifyTotp(user.totpSecret, ctx.field('code').trim(), ctx.app.clock(), user.totpLastStep);
        ok = step !== null && ctx.app.accounts.useTotpStep(user.id, step);
      }
      if (!ok) {
        await ctx.event('reauth.failure', { userId: user.id });
        return ctx.page('Confirm it is you', (v) => reauthPage(v, { next, needsCode: Boolean(user.totpSecret), error: 'That did not match. Try again.' }), { status: 401 });
      }
      // SEC-14/15: re-authentication refreshes auth_time and issues a new token.
      ctx.app.limits.reauth.reset(user.id);
      await ctx.session.login(user.id, { keep: KEEP_ON_REAUTH, amr: user.totpSecret ? ['pwd', 'otp'] : ['pwd'] });
      ctx.noteRotation('re-authentication');
      await ctx.event('reauth.success', { userId: user.id });
      return ctx.redirect(next);
    },
    // The detector sends a session here (step-up): it must be able to arrive.
    { auth: 'user', detect: false },
  );
}
