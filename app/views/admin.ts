/** Security dashboard (admin only). Figures are rendered on the server; dashboard.js keeps them live. */
import { html, type SafeHtml } from '../lib/html.js';
import type { Stats, AppEvent } from '../lib/monitor.js';
import { SUSPICIOUS } from '../lib/monitor.js';
import { csrfField, type ViewState } from './layout.js';
import { ago, iso, pct } from './format.js';

export interface AdminSessionRow {
  userId: string;
  email: string;
  role: string;
  device: string;
  ip: string;
  createdAt: number;
  lastSeenAt: number;
}

function tile(id: string, label: string, value: string, hint: string): SafeHtml {
  return html`<div class="tile"><div class="tile-label">${label}</div><div class="tile-value" data-kpi="${id}">${value}</div><div class="muted small">${hint}</div></div>`;
}

export function eventLine(e: AppEvent, now: number): SafeHtml {
  const bad = SUSPICIOUS.has(e.type);
  return html`<li class="${bad ? 'warn' : ''}"><span class="ev-type">${e.type}</span>${e.reason ? html` <span class="ev-reason">${e.reason}</span>` : ''}
    <span class="muted small">${e.ip ? html`${e.ip} · ` : ''}${e.sid ? html`sid ${e.sid.slice(0, 8)} · ` : ''}<time datetime="${e.at}" title="${e.at}">${ago(Date.parse(e.at), now)}</time></span></li>`;
}

export function adminPage(v: ViewState, p: { stats: Stats; events: AppEvent[]; rows: AdminSessionRow[]; now: number; httpsCookies: boolean }): SafeHtml {
  const s = p.stats;
  return html`<h1>Security dashboard</h1>
<p class="lead">Live figures from this app's session manager. Updates every few seconds; events arrive as they happen.</p>
<div class="tiles">
  ${tile('activeSessions', 'Active sessions', String(s.activeSessions), 'signed-in, all users')}
  ${tile('signinSuccessRate', 'Sign-in success', pct(s.signinSuccessRate), 'of all attempts')}
  ${tile('expirationRate', 'Ended by expiry', pct(s.expirationRate), 'vs. sign-out / revocation')}
  ${tile('rotationsPerSession', 'Rotations / session', s.rotationsPerSession === null ? '—' : s.rotationsPerSession.toFixed(2), 'new tokens per session')}
  ${tile('invalidTokens', 'Invalid tokens', String(s.invalidTokens), 'forged or malformed cookies')}
  ${tile('csrfBlocked', 'CSRF blocked', String(s.csrfBlocked), 'cross-site or token-less requests')}
  ${tile('boundSessions', 'Device-bound sessions', String(s.boundSessions), 'DBSC: cookies worthless without the device key')}
  ${tile('bindingViolations', 'Binding violations', String(s.bindingViolations), 'bound cookies replayed without their device')}
</div>
<div class="grid two">
  <section class="card" aria-labelledby="c-signins"><h2 id="c-signins">Sign-ins per minute</h2><div class="chart" id="chart-signins" role="img" aria-label="Bar chart of successful and failed sign-ins per minute over the last 30 minutes"></div>
    <p class="legend"><span class="key ok"></span>success <span class="key bad"></span>failed or throttled</p></section>
  <section class="card" aria-labelledby="c-life"><h2 id="c-life">Session lifecycle per minute</h2><div class="chart" id="chart-lifecycle" role="img" aria-label="Line chart of sessions created, rotated and ended per minute"></div>
    <p class="legend"><span class="key c1"></span>created <span class="key c2"></span>rotated <span class="key c3"></span>ended <span class="key bad"></span>blocked</p></section>
</div>
<div class="grid two">
  <section class="card" aria-labelledby="c-rot"><h2 id="c-rot">Rotations per live session</h2><div class="chart" id="chart-rotations" role="img" aria-label="Histogram of token rotations per live session"></div>
    <p class="muted small">0 = anonymous or never rotated; a sign-in with a second factor and a role change makes 3.</p></section>
  <section class="card" aria-labelledby="c-cookie"><h2 id="c-cookie">Session cookie compliance</h2>
    <p class="small">Checked on every <code>Set-Cookie</code> the app actually sent (<span data-kpi="cookieTotal">${s.cookie.total}</span> so far).${p.httpsCookies ? '' : html` <strong>Development mode:</strong> Secure and <code>__Host-</code> fail by design over plain HTTP.`}</p>
    <table class="table compact" id="cookie-table"><thead><tr><th scope="col">Attribute</th><th scope="col" class="right">Pass</th><th scope="col" class="right">Fail</th></tr></thead><tbody>
      ${s.cookie.checks.map(
        (c) => html`<tr data-check="${c.id}"><td><span class="dot ${c.fail === 0 && c.pass > 0 ? 'ok' : c.fail > 0 ? 'bad' : ''}"></span>${c.label}</td><td class="right" data-pass>${c.pass}</td><td class="right" data-fail>${c.fail}</td></tr>`,
      )}
    </tbody></table>
    <p class="small muted">Last header: <code data-kpi="lastCookie">${s.cookie.last ?? '—'}</code></p>
  </section>
</div>
<div class="grid two">
  <section class="card" aria-labelledby="feed-title">
    <h2 id="feed-title">Live security events <span class="badge" id="feed-status">connecting…</span></h2>
    <p class="small muted">Highlighted: forged or ended tokens, blocked requests, failed sign-ins, IP or browser changes within a session (SEC-35). Events carry a keyed hash of the session id, never a token.</p>
    <ol class="feed" id="feed" aria-live="polite" data-testid="feed">${[...p.events].reverse().map((e) => eventLine(e, p.now))}</ol>
  </section>
  <section class="card" aria-labelledby="active-title">
    <h2 id="active-title">Active sessions</h2>
    <div class="scroll"><table class="table compact cards"><thead><tr><th scope="col">User</th><th scope="col">Device</th><th scope="col">IP</th><th scope="col">Last active</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead><tbody>
      ${p.rows.map(
        (r) => html`<tr><td>${r.email} ${r.role === 'admin' ? html`<span class="badge admin">admin</span>` : ''}</td><td data-label="Device">${r.device}</td><td data-label="IP"><code>${r.ip}</code></td><td data-label="Last active" title="${iso(r.lastSeenAt)}">${ago(r.lastSeenAt, p.now)}</td>
        <td class="right"><form method="post" action="/admin/users/${r.userId}/revoke" class="inline">${csrfField(v)}<button class="button small danger" type="submit" title="End every session of ${r.email}">End all</button></form></td></tr>`,
      )}
    </tbody></table></div>
    <p class="small muted">Prometheus: <a href="/metrics">/metrics</a> · audit log: <code>data/audit.jsonl</code></p>
  </section>
</div>
<script src="/static/dashboard.js" defer></script>`;
}
