/** Sign-up, sign-in (password, then optional TOTP), sign-out and step-up re-authentication. */
import type { AppRouter } from '../lib/app.js';
import type { Ctx } from '../lib/context.js';
import { normaliseEmail } from '../lib/accounts.js';
import { passwordProblem, verifyPassword } from '../lib/passwords.js';
import { verifyTotp } from '../lib/totp.js';
import { signinPage, signupPage, totpPage, reauthPage } from '../views/auth.js';
import { duration } from '../views/format.js';

/** Only paths of this app's own pages: never an open redirect. */
const NEXT_RE = /^\/(?:account|sessions)(?:\/[a-z0-9-]+)*$/;

function safeNext(v: string | null): string {
  return v && NEXT_RE.test(v) ? v : '/account';
}

/** Data of the session that survives a re-authentication (login drops everything else). */
const KEEP_ON_REAUTH = ['gen', 'rotations', 'risk', 'totpPending'];

/** Seconds until both the account and the source may try again (0 = now). */
function retryAfter(ctx: Ctx, accountKey: string): number {
  const ip = ctx.app.sessions.requestInfo(ctx.req).ip ?? 'unknown';
  const ms = Math.max(ctx.app.limits.account.retryAfter(accountKey), ctx.app.limits.ip.retryAfter(ip));
  return Math.ceil(ms / 1000);
}

function failed(ctx: Ctx, accountKey: string): void {
  ctx.app.limits.account.fail(accountKey);
  ctx.app.limits.ip.fail(ctx.app.sessions.requestInfo(ctx.req).ip ?? 'unknown');
}

async function rateLimited(ctx: Ctx, seconds: number, page: 'signin' | 'totp' | 'reauth', email = ''): Promise<void> {
  await ctx.event('signin.rate_limited', { reason: `retry in ${seconds} s` });
  ctx.res.setHeader('retry-after', String(seconds));
  const error = `Too many failed attempts. Try again in ${Math.ceil(seconds / 60)} min.`;
  if (page === 'totp') return ctx.page('Second step', (v) => totpPage(v, { error }), { status: 429 });
  if (page === 'reauth') return ctx.page('Confirm it is you', (v) => reauthPage(v, { error, next: '/account', needsCode: false }), { status: 429 });
  return ctx.page('Sign in', (v) => signinPage(v, { email, error, demoEmail: ctx.app.config.demo?.email }), { status: 429, forms: true, nav: 'signin' });
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
      const key = email ?? raw.toLowerCase();
      const wait = retryAfter(ctx, key);
      if (wait > 0) return rateLimited(ctx, wait, 'signin', raw);
      const user = email ? await ctx.app.accounts.authenticate(email, password.slice(0, 256)) : null;
      if (!user) {
        failed(ctx, key);
        await ctx.event('signin.failure', { reason: 'wrong email or password' });
        return ctx.page('Sign in', (v) => signinPage(v, { email: raw, error: 'Email or password is wrong.', demoEmail: ctx.app.config.demo?.email }), {
          status: 401,
          forms: true,
          nav: 'signin',
        });
      }
      ctx.app.limits.account.reset(key);
      if (user.totpSecret) {
        // SEC-17: password done, second factor not — half-authenticated until completeStep().
        await ctx.session.login(user.id, { pending: 'mfa', amr: ['pwd'] });
        ctx.noteRotation('password accepted, code pending');
        await ctx.event('signin.password_ok', { userId: user.id });
        return ctx.redirect('/signin/2fa');
      }
      // SEC-15: a new token at sign-in; the pre-login token stops working.
      await ctx.session.login(user.id, { amr: ['pwd'] });
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
      const again = (error: string) =>
        ctx.page('Create an account', (v) => signupPage(v, { email: raw, error, demoEmail: ctx.app.config.demo?.email }), { status: 400, forms: true, nav: 'signup' });
      if (!email) return again('Enter a valid email address.');
      const problem = passwordProblem(password);
      if (problem) return again(problem);
      if (password !== ctx.form.get('confirm')) return again('The two passwords differ.');
      const user = await ctx.app.accounts.create(email, password);
      if (!user) return again('An account with this email exists already. Sign in instead.');
      await ctx.session.login(user.id, { amr: ['pwd'] });
      ctx.noteRotation('sign-up');
      await ctx.event('account.created', { userId: user.id });
      ctx.flash('ok', 'Welcome! Your account is ready. Consider turning on two-step verification.');
      return ctx.redirect('/account');
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
      const wait = retryAfter(ctx, user.email);
      if (wait > 0) return rateLimited(ctx, wait, 'totp');
      const step = verifyTotp(user.totpSecret, ctx.field('code').trim(), ctx.app.clock(), user.totpLastStep);
      if (step === null || !ctx.app.accounts.useTotpStep(user.id, step)) {
        failed(ctx, user.email);
        await ctx.event('mfa.failure', { userId: user.id, reason: 'wrong or reused code' });
        return ctx.page('Second step', (v) => totpPage(v, { error: 'That code is not right (or was used already). Try the next one.' }), { status: 401 });
      }
      ctx.app.limits.account.reset(user.email);
      // SEC-16: the second factor raises privilege, so the token rotates again.
      await ctx.session.completeStep('otp');
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
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/reauth',
    async (ctx) => {
      const user = ctx.user!;
      const next = safeNext(ctx.form.get('next'));
      const wait = retryAfter(ctx, user.email);
      if (wait > 0) return rateLimited(ctx, wait, 'reauth');
      let ok = await verifyPassword((ctx.form.get('password') ?? '').slice(0, 256), user.passwordHash);
      if (ok && user.totpSecret) {
        const step = verifyTotp(user.totpSecret, ctx.field('code').trim(), ctx.app.clock(), user.totpLastStep);
        ok = step !== null && ctx.app.accounts.useTotpStep(user.id, step);
      }
      if (!ok) {
        failed(ctx, user.email);
        await ctx.event('reauth.failure', { userId: user.id });
        return ctx.page('Confirm it is you', (v) => reauthPage(v, { next, needsCode: Boolean(user.totpSecret), error: 'That did not match. Try again.' }), { status: 401 });
      }
      // SEC-14/15: re-authentication refreshes auth_time and issues a new token.
      await ctx.session.login(user.id, { keep: KEEP_ON_REAUTH, amr: user.totpSecret ? ['pwd', 'otp'] : ['pwd'] });
      ctx.noteRotation('re-authentication');
      await ctx.event('reauth.success', { userId: user.id });
      return ctx.redirect(next);
    },
    { auth: 'user' },
  );
}
