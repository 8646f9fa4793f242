/** The signed-in user's pages: overview, sessions (SEC-39), 2FA, password (SEC-14/38), deletion, demo role (SEC-16). */
import QRCode from 'qrcode';
import type { AppRouter } from '../lib/app.js';
import type { Ctx } from '../lib/context.js';
import { passwordProblem } from '../lib/passwords.js';
import { newTotpSecret, otpauthUri, verifyTotp } from '../lib/totp.js';
import { describeUserAgent } from '../lib/ua.js';
import { accountPage, sessionsPage, totpEnrolPage, totpManagePage, passwordPage, deletePage, type DeviceRow } from '../views/account.js';

/** SEC-14: the step-up gate for sensitive operations; throws ReauthRequiredError when stale. */
function stepUp(ctx: Ctx): void {
  ctx.session.requireFreshAuth(ctx.app.config.stepUpMs);
}

async function endOthers(ctx: Ctx): Promise<number> {
  return ctx.form.get('endOthers') === '1' ? ctx.session.destroyOtherSessions() : 0;
}

function ended(n: number): string {
  return n > 0 ? ` ${n} other ${n === 1 ? 'session was' : 'sessions were'} signed out.` : '';
}

export function accountRoutes(r: AppRouter): void {
  r.add(
    'GET',
    '/account',
    async (ctx) => {
      const s = ctx.session;
      const fingerprint = (await ctx.app.manager.sid(s.id!)).slice(0, 12);
      const sessions = await s.listSessions();
      const risk = s.get('risk');
      return ctx.page(
        'Your account',
        (v) =>
          accountPage(v, {
            user: ctx.user!,
            fingerprint,
            generation: s.get('gen') ?? 1,
            rotations: s.get('rotations') ?? [],
            authTime: s.authTime,
            createdAt: s.createdAt,
            absoluteExpiresAt: s.absoluteExpiresAt,
            sessionCount: sessions.length,
            risk: risk && (risk.ip || risk.ua) ? risk : null,
            binding: s.binding,
            demoRoles: ctx.app.config.demoRoles,
            stepUpMs: ctx.app.config.stepUpMs,
            now: ctx.app.clock(),
          }),
        { nav: 'account' },
      );
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/account/role',
    async (ctx) => {
      if (!ctx.app.config.demoRoles) return ctx.redirect('/account');
      const role = ctx.form.get('role') === 'admin' ? 'admin' : 'user';
      ctx.app.accounts.setRole(ctx.user!.id, role);
      // SEC-16: a privilege change gets a new token; the old one only resolves during the grace window.
      await ctx.session.rotate();
      ctx.noteRotation(`role changed to ${role}`);
      await ctx.event('role.changed', { reason: `now ${role}` });
      ctx.flash('ok', role === 'admin' ? 'You are an administrator now: the dashboard is in the menu. Your session token was rotated.' : 'Admin role dropped. Your session token was rotated.');
      return ctx.redirect('/account');
    },
    { auth: 'user' },
  );

  r.add(
    'GET',
    '/sessions',
    async (ctx) => {
      const now = ctx.app.clock();
      const list = await ctx.session.listSessions();
      const rows: DeviceRow[] = [];
      for (const d of list) {
        rows.push({
          // The page names sessions by a keyed hash, never by their store id.
          handle: await ctx.app.manager.sid(d.id),
          current: d.current,
          device: describeUserAgent(d.userAgent),
          ip: d.ip ?? 'unknown',
          createdAt: d.createdAt,
          lastSeenAt: d.lastSeenAt,
          expiresAt: d.expiresAt,
        });
      }
      return ctx.page('Your sessions', (v) => sessionsPage(v, rows, now), { nav: 'sessions' });
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/sessions/revoke',
    async (ctx) => {
      const handle = ctx.field('sid');
      for (const d of await ctx.session.listSessions()) {
        if ((await ctx.app.manager.sid(d.id)) !== handle) continue;
        await ctx.session.destroySession(d.id);
        if (d.current) return ctx.redirect('/signin?reason=signed-out');
        ctx.flash('ok', 'That device was signed out.');
        return ctx.redirect('/sessions');
      }
      ctx.flash('info', 'That session had ended already.');
      return ctx.redirect('/sessions');
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/sessions/revoke-others',
    async (ctx) => {
      const n = await ctx.session.destroyOtherSessions();
      ctx.flash('ok', n === 0 ? 'No other sessions were active.' : `Signed out ${n} other ${n === 1 ? 'session' : 'sessions'}.`);
      return ctx.redirect('/sessions');
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/sessions/revoke-all',
    async (ctx) => {
      await ctx.session.destroyOtherSessions();
      await ctx.session.destroy();
      return ctx.redirect('/signin?reason=signed-out');
    },
    { auth: 'user' },
  );

  r.add(
    'GET',
    '/account/2fa',
    async (ctx) => {
      stepUp(ctx);
      if (ctx.user!.totpSecret) return ctx.page('Two-step verification', (v) => totpManagePage(v), { nav: 'account' });
      let secret = ctx.session.get('totpPending');
      if (!secret) {
        secret = newTotpSecret();
        ctx.session.set('totpPending', secret);
      }
      const svg = await QRCode.toString(otpauthUri(secret, ctx.user!.email), { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
      const qrDataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
      return ctx.page('Two-step verification', (v) => totpEnrolPage(v, { secret: secret!, qrDataUrl }), { nav: 'account' });
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/account/2fa/enable',
    async (ctx) => {
      stepUp(ctx);
      const user = ctx.user!;
      const secret = ctx.session.get('totpPending');
      if (!secret || user.totpSecret) return ctx.redirect('/account/2fa');
      const step = verifyTotp(secret, ctx.field('code').trim(), ctx.app.clock());
      if (step === null) {
        await ctx.event('mfa.enrol_failure', { userId: user.id });
        const svg = await QRCode.toString(otpauthUri(secret, user.email), { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
        const qrDataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
        return ctx.page('Two-step verification', (v) => totpEnrolPage(v, { secret, qrDataUrl, error: 'That code did not match. Check the time on your phone and try the next code.' }), {
          status: 400,
          nav: 'account',
        });
      }
      // The confirming code counts as used: it can never sign anyone in later (RFC 6238 5.2).
      ctx.app.accounts.setTotp(user.id, secret, step);
      ctx.session.delete('totpPending');
      await ctx.session.rotate();
      ctx.noteRotation('two-step verification turned on');
      const n = await endOthers(ctx);
      await ctx.event('mfa.enabled', { userId: user.id });
      ctx.flash('ok', `Two-step verification is on. Your session token was rotated.${ended(n)}`);
      return ctx.redirect('/account');
    },
    { auth: 'user', stepUpReturn: '/account/2fa' },
  );

  r.add(
    'POST',
    '/account/2fa/disable',
    async (ctx) => {
      stepUp(ctx);
      ctx.app.accounts.setTotp(ctx.user!.id, null);
      await ctx.session.rotate();
      ctx.noteRotation('two-step verification turned off');
      await ctx.event('mfa.disabled', { userId: ctx.user!.id });
      ctx.flash('info', 'Two-step verification is off.');
      return ctx.redirect('/account');
    },
    { auth: 'user', stepUpReturn: '/account/2fa' },
  );

  r.add(
    'GET',
    '/account/password',
    async (ctx) => {
      stepUp(ctx);
      const others = (await ctx.session.listSessions()).filter((d) => !d.current).length;
      return ctx.page('Change password', (v) => passwordPage(v, { otherSessions: others }), { nav: 'account' });
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/account/password',
    async (ctx) => {
      stepUp(ctx);
      const password = ctx.form.get('password') ?? '';
      const problem = passwordProblem(password) ?? (password !== ctx.form.get('confirm') ? 'The two passwords differ.' : null);
      if (problem) {
        const others = (await ctx.session.listSessions()).filter((d) => !d.current).length;
        return ctx.page('Change password', (v) => passwordPage(v, { error: problem, otherSessions: others }), { status: 400, nav: 'account' });
      }
      await ctx.app.accounts.setPassword(ctx.user!.id, password);
      await ctx.session.rotate();
      ctx.noteRotation('password changed');
      // SEC-38: after a password change the user chooses to end the other sessions (default on).
      const n = await endOthers(ctx);
      await ctx.event('password.changed', { userId: ctx.user!.id, count: n });
      ctx.flash('ok', `Password changed.${ended(n)}`);
      return ctx.redirect('/account');
    },
    { auth: 'user' },
  );

  r.add(
    'GET',
    '/account/delete',
    async (ctx) => {
      stepUp(ctx);
      return ctx.page('Delete account', (v) => deletePage(v, { email: ctx.user!.email }), { nav: 'account' });
    },
    { auth: 'user' },
  );

  r.add(
    'POST',
    '/account/delete',
    async (ctx) => {
      stepUp(ctx);
      const user = ctx.user!;
      if (ctx.field('confirm').trim().toLowerCase() !== user.email) {
        return ctx.page('Delete account', (v) => deletePage(v, { email: user.email, error: 'That is not your email address.' }), { status: 400, nav: 'account' });
      }
      // SEC-38: disabling an account ends all its sessions, on every instance sharing the store.
      await ctx.app.manager.destroyUserSessions(user.id, ctx.session.id ?? undefined);
      ctx.app.accounts.delete(user.id);
      await ctx.event('account.deleted', { userId: user.id });
      await ctx.session.destroy();
      return ctx.redirect('/signin?reason=deleted');
    },
    { auth: 'user' },
  );
}
