/** Security dashboard: page, live feed (Server-Sent Events), JSON figures, admin revocation (SEC-39). */
import type { AppRouter } from '../lib/app.js';
import type { Ctx } from '../lib/context.js';
import { describeUserAgent } from '../lib/ua.js';
import { adminPage, type AdminSessionRow } from '../views/admin.js';
import { SUSPICIOUS } from '../lib/dashboard.js';

const STATS_EVERY_MS = 3000;

async function activeRows(ctx: Ctx): Promise<AdminSessionRow[]> {
  const rows: AdminSessionRow[] = [];
  for (const u of ctx.app.accounts.list()) {
    for (const d of await ctx.app.manager.listUserSessions(u.id)) {
      rows.push({ userId: u.id, email: u.email, role: u.role, device: describeUserAgent(d.userAgent), ip: d.ip ?? 'unknown', createdAt: d.createdAt, lastSeenAt: d.lastSeenAt });
      if (rows.length >= 100) return rows;
    }
  }
  return rows.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
}

export function adminRoutes(r: AppRouter): void {
  r.add(
    'GET',
    '/admin',
    async (ctx) => {
      const stats = await ctx.app.stats();
      const rows = await activeRows(ctx);
      const events = ctx.app.monitor.history.recent(40);
      const now = ctx.app.clock();
      return ctx.page('Security dashboard', (v) => adminPage(v, { stats, events, rows, now, httpsCookies: ctx.app.config.https }), { nav: 'admin' });
    },
    { auth: 'admin' },
  );

  r.add('GET', '/admin/stats.json', async (ctx) => ctx.json(200, await ctx.app.stats()), { auth: 'admin' });

  r.add(
    'GET',
    '/admin/feed',
    async (ctx) => {
      const { res, app } = ctx;
      const sessionId = ctx.session.id!;
      const userId = ctx.user!.id;
      await ctx.commit();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('stats', await app.stats());
      const unsubscribe = app.monitor.history.subscribe((e) => send('event', { ...e, suspicious: SUSPICIOUS.has(e.type) }));
      // The stream outlives the request that opened it: re-check the session on every tick, so a
      // sign-out, a revocation, a rotation or a dropped role ends the feed (the browser reconnects
      // with its current cookie, or gets the sign-in page).
      const timer = setInterval(() => {
        void (async () => {
          const rec = await app.manager.store.get(sessionId, app.clock()).catch(() => null);
          if (!rec || rec.rotatedTo || app.accounts.byId(userId)?.role !== 'admin') return res.end();
          send('stats', await app.stats());
        })().catch(() => res.end());
      }, STATS_EVERY_MS);
      res.on('close', () => {
        clearInterval(timer);
        unsubscribe();
      });
    },
    { auth: 'admin' },
  );

  r.add(
    'POST',
    '/admin/users/:id/revoke',
    async (ctx) => {
      const target = ctx.app.accounts.byId(ctx.params.id ?? '');
      if (!target) return ctx.redirect('/admin');
      const self = target.id === ctx.user!.id;
      const n = await ctx.app.manager.destroyUserSessions(target.id, self ? (ctx.session.id ?? undefined) : undefined);
      await ctx.event('admin.revoked', { userId: target.id, count: n });
      ctx.flash('ok', `Ended ${n} ${n === 1 ? 'session' : 'sessions'} of ${target.email}${self ? ' (your current one kept)' : ''}.`);
      return ctx.redirect('/admin');
    },
    { auth: 'admin' },
  );
}
