/** Security dashboard (admin only). Figures are rendered on the server; dashboard.js keeps them live. */
import { html, type SafeHtml } from '../lib/html.js';
import { SUSPICIOUS, type Stats } from '../lib/dashboard.js';
import type { LoggedEvent } from '../lib/security-log.js';
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

function tile(id: string, label: string, value: string, hint: string | SafeHtml): SafeHtml {
  return html`<div class="tile"><div class="tile-label">${label}</div><div class="tile-value" data-kpi="${id}">${value}</div><div class="muted small">${hint}</div></div>`;
}

export function eventLine(e: LoggedEvent, now: number): SafeHtml {
  const bad = SUSPICIOUS.has(e.type);
  return html`<li class="${bad ? 'warn' : ''}"><span class="ev-type">${e.type}</span>${e.signal ? html` <span class="ev-reason">${e.signal} → ${e.action ?? ''}</span>` : ''}${e.reason ? html` <span class="ev-reason">${e.reason}</span>` : ''}
    <span class="muted small">${e.ip ? html`${e.ip} · ` : ''}${e.sid ? html`sid ${e.sid.slice(0, 8)} · ` : ''}<time datetime="${e.at}" title="${e.at}">${ago(Date.parse(e.at), now)}</time></span></li>`;
}

export function adminPage(v: ViewState, p: { stats: Stats; events: LoggedEvent[]; rows: AdminSessionRow[]; now: number; httpsCookies: boolean }): SafeHtml {
  const s = p.stats;
  return html`<h1>Security dashboard</h1>
<p class="lead">Live figures from this app's session manager. Updates every few seconds; events arrive as they happen.</p>
<div class="tiles">
  ${tile('activeSessions', 'Active sessions', String(s.activeSessions), 'signed-in, all users')}
  ${tile('boundSessions', 'Device-bound sessions', String(s.boundSessions), html`<span data-kpi="unboundSessions">${s.unboundSessions}</span> unbound (DBSC: a bound cookie is worthless without its device key)`)}
  ${tile('mfaRate', 'MFA adoption', pct(s.mfa.rate), html`<span data-kpi="mfaCounts">${s.mfa.enabled} of ${s.mfa.accounts}</span> accounts use a second factor`)}
  ${tile('signinSuccessRate', 'Sign-in success', pct(s.signins.successRate), `of checked attempts, last ${s.windowHours} h`)}
  ${tile('signinFailed', 'Failed sign-ins', String(s.signins.failed), 'wrong password or code')}
  ${tile('signinThrottled', 'Throttled', String(s.signins.throttled), 'refused before any check (429)')}
  ${tile('invalidTokens', 'Invalid tokens', String(s.invalidTokens), 'forged or malformed cookies')}
  ${tile('bindingViolations', 'Binding violations', String(s.bindingViolations), 'bound cookies replayed without their device')}
</div>
<div class="grid two">
  <section class="card" aria-labelledby="c-ips"><h2 id="c-ips">Top failing addresses</h2>
    <table class="table compact" id="top-ips" data-testid="top-ips"><thead><tr><th scope="col">Address</th><th scope="col" class="right">Failed</th><th scope="col" class="right">Throttled</th></tr></thead><tbody>
      ${s.topIps.map((r) => html`<tr><td><code>${r.ip}</code></td><td class="right">${r.failed}</td><td class="right">${r.throttled}</td></tr>`)}
    </tbody></table>
    <p class="small muted">Last ${s.windowHours} h, kept across restarts. Throttled attempts were refused before the password was checked.</p></section>
  <section class="card" aria-labelledby="c-accts"><h2 id="c-accts">Top failing accounts</h2>
    <table class="table compact" id="top-accounts" data-testid="top-accounts"><thead><tr><th scope="col">Account</th><th scope="col" class="right">Failed</th><th scope="col" class="right">Throttled</th></tr></thead><tbody>
      ${s.topAccounts.map((r) => html`<tr><td>${r.email}</td><td class="right">${r.failed}</td><td class="right">${r.throttled}</td></tr>`)}
    </tbody></table>
    <p class="small muted">Attempts on registered accounts only: unknown emails are not recorded.</p></section>
</div>
<div class="grid two">
  <section class="card" aria-labelledby="c-anom"><h2 id="c-anom">Anomalies by signal and action</h2>
    <table class="table compact" id="anomalies" data-testid="anomalies"><thead><tr><th scope="col">Signal</th><th scope="col">Action taken</th><th scope="col" class="right">Count</th></tr></thead><tbody>
      ${s.anomalies.map((a) => html`<tr><td>${a.signal}</td><td>${a.action}</td><td class="right">${a.count}</td></tr>`)}
    </tbody></table>
    <p class="small muted">From the library's detector (SEC-35): one soft signal only logs; a stolen-cookie pattern asks for the password; a binding violation ends the session.</p></section>
  <section class="card" aria-labelledby="c-csrf"><h2 id="c-csrf">CSRF refusals by reason <span class="badge" data-kpi="csrfBlocked">${s.csrf.reduce((n, c) => n + c.count, 0)}</span></h2>
    <table class="table compact" id="csrf-reasons" data-testid="csrf-reasons"><thead><tr><th scope="col">Reason</th><th scope="col" class="right">Count</th></tr></thead><tbody>
      ${s.csrf.map((c) => html`<tr><td>${c.reason}</td><td class="right">${c.count}</td></tr>`)}
    </tbody></table></section>
</div>
<div class="grid two">
  <section class="card" aria-labelledby="c-signins"><h2 id="c-signins">Sign-ins per minute</h2><div class="chart" id="chart-signins" role="img" aria-label="Bar chart of successful and failed sign-ins per minute over the last 30 minutes"></div>
    <p class="legend"><span class="key ok"></span>success <span class="key bad"></span>failed <span class="key c2"></span>throttled</p></section>
  <section class="card" aria-labelledby="c-life"><h2 id="c-life">Session lifecycle per minute</h2><div class="chart" id="chart-lifecycle" role="img" aria-label="Line chart of sessions created, rotated and ended per minute"></div>
    <p class="legend"><span class="key c1"></span>created <span class="key c2"></span>rotated <span class="key c3"></span>ended <span class="key bad"></span>blocked</p></section>
</div>
<div class="grid two">
  <section class="card" aria-labelledby="c-ratios"><h2 id="c-ratios">Session health</h2>
    <table class="table compact"><tbody>
      <tr><td>Ended by expiry (vs. sign-out, revocation)</td><td class="right" data-kpi="expirationRate">${pct(s.expirationRate)}</td></tr>
      <tr><td>Rotations per new session</td><td class="right" data-kpi="rotationsPerSession">${s.rotationsPerSession === null ? '—' : s.rotationsPerSession.toFixed(2)}</td></tr>
    </tbody></table>
    <p class="small muted">Last ${s.windowHours} h. For alerting, use the counters on <a href="/metrics">/metrics</a> with <code>rate()</code> (docs/monitoring.md).</p></section>
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
    <p class="small muted">Highlighted: forged or ended tokens, blocked requests, failed sign-ins, anomalies (SEC-35). Events carry a keyed hash of the session id, never a token.</p>
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
    <p class="small muted">Prometheus: <a href="/metrics">/metrics</a> · audit log: <code>data/audit.jsonl</code> · history: <code>data/security.db</code></p>
  </section>
</div>
<script src="/static/dashboard.js" defer></script>`;
}
