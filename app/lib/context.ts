/**
 * Per-request context handed to route handlers. Its response helpers always commit the session
 * first (Set-Cookie must precede the body), then record the emitted cookie for the dashboard.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from 'sessionward';
import { getCsrfToken } from 'sessionward/csrf';
import type { SafeHtml } from './html.js';
import type { AppState, SessionData, Flash } from './state.js';
import type { User } from './accounts.js';
import { layout, type ViewState } from '../views/layout.js';

export interface PageOptions {
  status?: number;
  /** Create a CSRF token even for an anonymous visitor (pages with forms: sign-in, sign-up). */
  forms?: boolean;
  nav?: string;
}

export class Ctx {
  user: User | null = null;
  /** Parsed body of an unsafe request (form fields or JSON string values). */
  form = new URLSearchParams();
  private committed = false;

  constructor(
    readonly app: AppState,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    readonly params: Record<string, string>,
    readonly session: Session<SessionData>,
  ) {}

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** Fetch/XHR callers and JSON endpoints get JSON errors; browsers navigating get pages. */
  get wantsJson(): boolean {
    const accept = this.req.headers.accept ?? '';
    return this.url.pathname.startsWith('/session/') || this.url.pathname.endsWith('.json') || (accept.includes('application/json') && !accept.includes('text/html'));
  }

  field(name: string): string {
    return (this.form.get(name) ?? '').slice(0, 1024);
  }

  flash(kind: Flash['kind'], text: string): void {
    if (!this.session.destroyed) this.session.set('flash', { kind, text });
  }

  /** Record an app event with this request's session hash, user, IP and browser (never a token). */
  async event(type: string, extra: { reason?: string; userId?: string | null; count?: number } = {}): Promise<void> {
    const s = this.session;
    const info = this.app.sessions.requestInfo(this.req);
    this.app.monitor.appEvent({
      type,
      ...(s.id ? { sid: await this.app.manager.sid(s.id) } : {}),
      userId: s.userId ?? this.user?.id ?? null,
      ...(info.ip ? { ip: info.ip } : {}),
      ...(info.userAgent ? { userAgent: info.userAgent } : {}),
      ...extra,
    });
  }

  /** Call right after a token rotation: bumps the visible token generation (SEC-15/16). */
  noteRotation(reason: string): void {
    const s = this.session;
    s.set('gen', (s.get('gen') ?? 0) + 1);
    s.set('rotations', [...(s.get('rotations') ?? []), { at: this.app.clock(), reason }].slice(-8));
  }

  /** Persist the session and apply its headers. Idempotent. */
  async commit(): Promise<void> {
    if (this.committed) return;
    this.committed = true;
    await this.app.sessions.commit(this.session, this.res);
    const sc = this.res.getHeader('set-cookie');
    if (sc !== undefined) {
      const cc = this.res.getHeader('cache-control');
      this.app.monitor.observeSetCookie(Array.isArray(sc) ? sc : [String(sc)], this.app.manager.cookieName, cc === undefined ? undefined : String(cc));
    }
  }

  async page(title: string, body: (v: ViewState) => SafeHtml, opts: PageOptions = {}): Promise<void> {
    const s = this.session;
    const signedIn = !s.destroyed && s.isAuthenticated;
    const csrf = !s.destroyed && (signedIn || opts.forms || s.pendingStep) ? getCsrfToken(s) : null;
    let flash: Flash | null = null;
    if (!s.destroyed && s.get('flash')) {
      flash = s.get('flash') ?? null;
      s.delete('flash');
    }
    await this.commit();
    const now = this.app.clock();
    const view: ViewState = {
      csrf,
      user: signedIn ? this.user : null,
      flash,
      nav: opts.nav ?? '',
      insecureCookies: !this.app.config.https,
      remainingMs: signedIn && s.expiresAt ? Math.max(0, s.expiresAt - now) : null,
      warnMs: this.app.config.warnMs,
      idleMs: this.app.config.idleMs,
    };
    this.send(opts.status ?? 200, 'text/html; charset=utf-8', layout(title, view, body(view)).value);
  }

  async redirect(location: string, status = 303): Promise<void> {
    await this.commit();
    this.res.statusCode = status;
    this.res.setHeader('location', location);
    this.res.end();
  }

  async json(status: number, body: unknown, opts: { commit?: boolean } = {}): Promise<void> {
    if (opts.commit !== false) await this.commit();
    this.res.setHeader('cache-control', 'no-store');
    this.send(status, 'application/json', JSON.stringify(body));
  }

  send(status: number, type: string, body: string | Buffer): void {
    this.res.statusCode = status;
    this.res.setHeader('content-type', type);
    this.res.end(body);
  }
}
