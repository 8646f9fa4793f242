/** The security explainer and the JSON endpoints the browser's idle timer uses. */
import type { AppRouter } from '../lib/app.js';
import { securityPage } from '../views/security.js';

export function infoRoutes(r: AppRouter): void {
  r.add(
    'GET',
    '/security',
    async (ctx) => {
      const { config, manager, monitor } = ctx.app;
      return ctx.page(
        'How it is protected',
        (v) =>
          securityPage(v, {
            cookie: monitor.lastIssuedCookie(),
            expectedName: manager.cookieName,
            https: config.https,
            store: config.storeLabel,
            storeLocation: ctx.user?.role === 'admin' ? (config.storeLocation ?? null) : null,
            keyCount: config.secrets.length,
            idleMs: config.idleMs,
            absoluteMs: config.absoluteMs,
            touchAfterMs: config.touchAfterMs ?? Math.min(config.idleMs / 10, 60_000),
            warnMs: config.warnMs,
            stepUpMs: config.stepUpMs,
            origins: ctx.app.origins,
            rate: config.rateLimit,
            scryptLogN: config.scryptLogN!,
          }),
        { nav: 'security' },
      );
    },
    {},
  );

  // Read-only on purpose: a live session is not committed, so asking never counts as activity.
  // A dead one is, which clears its cookie.
  r.add(
    'GET',
    '/session/status',
    async (ctx) => {
      const s = ctx.session;
      const remainingMs = s.isAuthenticated && s.expiresAt ? Math.max(0, s.expiresAt - ctx.app.clock()) : 0;
      return ctx.json(200, { signedIn: s.isAuthenticated, remainingMs }, { commit: !s.isAuthenticated });
    },
    {},
  );

  // "Stay signed in": an explicit touch, so the idle deadline moves now (not after `touchAfter`).
  r.add(
    'POST',
    '/session/keepalive',
    async (ctx) => {
      ctx.session.touch();
      await ctx.commit();
      const s = ctx.session;
      return ctx.json(200, { signedIn: true, remainingMs: s.expiresAt ? Math.max(0, s.expiresAt - ctx.app.clock()) : 0 });
    },
    { auth: 'user' },
  );
}
