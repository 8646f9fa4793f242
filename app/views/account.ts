/** Account overview, device list, two-step enrolment, password change and account deletion. */
import { html, type SafeHtml } from '../lib/html.js';
import type { User } from '../lib/accounts.js';
import { csrfField, type ViewState } from './layout.js';
import { ago, iso, inTime, duration, countdown } from './format.js';

export interface AccountProps {
  user: User;
  fingerprint: string;
  generation: number;
  rotations: Array<{ at: number; reason: string }>;
  authTime: number | null;
  createdAt: number | null;
  absoluteExpiresAt: number | null;
  sessionCount: number;
  risk: { ip?: string; ua?: string } | null;
  /** What the session is bound to: 'dbsc' (a device key) or 'none' (the cookie alone). */
  binding: 'dbsc' | 'none';
  demoRoles: boolean;
  stepUpMs: number;
  now: number;
}

export function accountPage(v: ViewState, p: AccountProps): SafeHtml {
  const { user, now } = p;
  const fresh = p.authTime !== null && now - p.authTime <= p.stepUpMs;
  return html`<h1>Your account</h1>
<p class="lead">Signed in as <strong data-testid="account-email">${user.email}</strong> <span class="badge ${user.role === 'admin' ? 'admin' : ''}" data-testid="role">${user.role}</span></p>
${p.risk
    ? html`<div class="flash warn" role="status">This session's ${p.risk.ip ? 'network' : 'browser'} changed since you signed in. If that was not you, <a href="/sessions">sign out your sessions</a> and change your password.</div>`
    : ''}
<div class="grid">
  <section class="card" aria-labelledby="this-session">
    <h2 id="this-session">This session</h2>
    <dl class="facts">
      <dt>Session fingerprint</dt><dd><code data-testid="session-fingerprint">${p.fingerprint}</code> <span class="muted small">keyed hash of the session id, never the token</span></dd>
      <dt>Device binding</dt><dd data-testid="binding">${p.binding === 'dbsc' ? html`<strong class="ok-text">bound to this device</strong> <span class="muted small">(DBSC: a copied cookie stops working within minutes)</span>` : html`<span>not device-bound</span> <span class="muted small">(this browser does not offer DBSC, or the site is not served over HTTPS)</span>`}</dd>
      <dt>Token generation</dt><dd><strong data-testid="token-generation">${p.generation}</strong> <span class="muted small">a new token at every sign-in, second factor, role change and re-authentication</span></dd>
      <dt>Signed in</dt><dd>${p.authTime ? html`<time datetime="${new Date(p.authTime).toISOString()}" title="${iso(p.authTime)}">${ago(p.authTime, now)}</time>` : '—'}</dd>
      <dt>Ends at the latest</dt><dd>${p.absoluteExpiresAt ? html`<span title="${iso(p.absoluteExpiresAt)}">${inTime(p.absoluteExpiresAt, now)}</span> <span class="muted small">absolute timeout</span>` : '—'}</dd>
      <dt>Idle timeout</dt><dd><span data-testid="idle-left" class="js-idle-left">${countdown(v.remainingMs ?? v.idleMs)}</span> left <span class="muted small">(any request restarts the ${duration(v.idleMs)} limit)</span></dd>
      <dt>Sensitive changes</dt><dd>${fresh ? html`<span class="ok-text">allowed without re-entering your password</span>` : html`<span>need your password again</span>`} <span class="muted small">(step-up after ${duration(p.stepUpMs)})</span></dd>
    </dl>
    <h3>Token history</h3>
    <ol class="timeline" data-testid="rotations">
      ${p.rotations.map((r) => html`<li><span>${r.reason}</span> <time class="muted small" title="${iso(r.at)}">${ago(r.at, now)}</time></li>`)}
    </ol>
  </section>
  <section class="card" aria-labelledby="security-settings">
    <h2 id="security-settings">Security</h2>
    <ul class="settings">
      <li>
        <div><strong>Two-step verification</strong><br><span class="muted small">${user.totpSecret ? 'On: a code from your authenticator app is asked at sign-in.' : 'Off: only your password protects this account.'}</span></div>
        <a class="button ${user.totpSecret ? 'secondary' : ''}" href="/account/2fa" data-testid="2fa-link">${user.totpSecret ? 'Manage' : 'Turn on'}</a>
      </li>
      <li>
        <div><strong>Your sessions</strong><br><span class="muted small">${p.sessionCount} active ${p.sessionCount === 1 ? 'session' : 'sessions'} on your devices.</span></div>
        <a class="button secondary" href="/sessions">Review</a>
      </li>
      <li>
        <div><strong>Password</strong><br><span class="muted small">Changed <span title="${iso(user.passwordChangedAt)}">${ago(user.passwordChangedAt, now)}</span>.</span></div>
        <a class="button secondary" href="/account/password">Change</a>
      </li>
      <li>
        <div><strong>Delete account</strong><br><span class="muted small">Removes the account and ends all its sessions.</span></div>
        <a class="button danger" href="/account/delete">Delete</a>
      </li>
    </ul>
    ${p.demoRoles
      ? html`<h3>Role <span class="muted small">(demo)</span></h3>
    <p class="small">Changing privileges rotates the session token (the fingerprint above changes). In a real app an administrator grants roles.</p>
    <form method="post" action="/account/role">${csrfField(v)}<input type="hidden" name="role" value="${user.role === 'admin' ? 'user' : 'admin'}">
      <button class="button secondary" type="submit" data-testid="role-toggle">${user.role === 'admin' ? 'Drop the admin role' : 'Become admin (demo)'}</button></form>`
      : ''}
  </section>
</div>`;
}

export interface DeviceRow {
  handle: string;
  current: boolean;
  device: string;
  ip: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export function sessionsPage(v: ViewState, rows: DeviceRow[], now: number): SafeHtml {
  return html`<h1>Your sessions</h1>
<p class="lead">Every browser or device signed in to your account. Signing one out deletes it on the server at once; that device needs the password again.</p>
<section class="card">
  <div class="scroll"><table class="table cards" data-testid="sessions-table">
    <caption class="sr-only">Active sessions</caption>
    <thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th><th scope="col">Last active</th><th scope="col">Expires</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
    <tbody>
      ${rows.map(
        (r) => html`<tr data-testid="session-row"${r.current ? html` class="current"` : ''}>
        <td><strong>${r.device}</strong>${r.current ? html` <span class="badge ok">this device</span>` : ''}</td>
        <td data-label="IP address"><code>${r.ip}</code></td>
        <td data-label="Signed in" title="${iso(r.createdAt)}">${ago(r.createdAt, now)}</td>
        <td data-label="Last active" title="${iso(r.lastSeenAt)}">${ago(r.lastSeenAt, now)}</td>
        <td data-label="Expires" title="${iso(r.expiresAt)}">${inTime(r.expiresAt, now)}</td>
        <td class="right">
          <form method="post" action="/sessions/revoke" class="inline">${csrfField(v)}<input type="hidden" name="sid" value="${r.handle}">
            <button class="button small ${r.current ? 'secondary' : 'danger'}" type="submit" data-testid="${r.current ? 'revoke-current' : 'revoke-other'}">${r.current ? 'Sign out' : 'Sign out device'}</button></form>
        </td>
      </tr>`,
      )}
    </tbody>
  </table></div>
  <div class="row end">
    <form method="post" action="/sessions/revoke-others" class="inline">${csrfField(v)}<button class="button secondary" type="submit" data-testid="revoke-others"${rows.length < 2 ? html` disabled` : ''}>Sign out all other sessions</button></form>
    <form method="post" action="/sessions/revoke-all" class="inline">${csrfField(v)}<button class="button danger" type="submit" data-testid="revoke-all">Sign out everywhere</button></form>
  </div>
</section>`;
}

export function totpEnrolPage(v: ViewState, p: { secret: string; qrDataUrl: string; error?: string }): SafeHtml {
  const grouped = p.secret.replace(/(.{4})/g, '$1 ').trim();
  return html`<h1>Turn on two-step verification</h1>
<div class="grid">
  <section class="card" aria-labelledby="scan">
    <h2 id="scan">1. Scan the code</h2>
    <p>Use any authenticator app (1Password, Google Authenticator, Aegis, …).</p>
    <img class="qr" src="${p.qrDataUrl}" width="220" height="220" alt="QR code with the setup key shown below">
    <p class="small">Or type this setup key: <code class="secret" data-testid="totp-secret" data-secret="${p.secret}">${grouped}</code></p>
  </section>
  <section class="card" aria-labelledby="confirm">
    <h2 id="confirm">2. Enter a code to confirm</h2>
    ${p.error ? html`<div class="flash error" role="alert">${p.error}</div>` : ''}
    <form method="post" action="/account/2fa/enable" class="stack">
      ${csrfField(v)}
      <label for="code">6-digit code</label>
      <input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>
      <label class="check"><input type="checkbox" name="endOthers" value="1" checked> Sign out my other sessions</label>
      <button class="button" type="submit">Turn on</button>
    </form>
    <p class="muted small">Your session gets a new token once the second factor is on.</p>
  </section>
</div>`;
}

export function totpManagePage(v: ViewState): SafeHtml {
  return html`<section class="card narrow">
  <h1>Two-step verification is on</h1>
  <p>At every sign-in we ask for a code from your authenticator app after your password.</p>
  <form method="post" action="/account/2fa/disable">${csrfField(v)}<button class="button danger" type="submit">Turn off two-step verification</button></form>
  <p><a href="/account">Back to your account</a></p>
</section>`;
}

export function passwordPage(v: ViewState, p: { error?: string; otherSessions: number }): SafeHtml {
  return html`<section class="card narrow" aria-labelledby="pw-title">
  <h1 id="pw-title">Change your password</h1>
  ${p.error ? html`<div class="flash error" role="alert">${p.error}</div>` : ''}
  <form method="post" action="/account/password" class="stack">
    ${csrfField(v)}
    <label for="password">New password <span class="muted small">(at least 10 characters)</span></label>
    <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required autofocus>
    <label for="confirm">Repeat the new password</label>
    <input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="10" required>
    <label class="check"><input type="checkbox" name="endOthers" value="1" checked> Sign out my ${p.otherSessions} other ${p.otherSessions === 1 ? 'session' : 'sessions'}</label>
    <button class="button" type="submit">Change password</button>
  </form>
  <p><a href="/account">Cancel</a></p>
</section>`;
}

export function deletePage(v: ViewState, p: { email: string; error?: string }): SafeHtml {
  return html`<section class="card narrow" aria-labelledby="del-title">
  <h1 id="del-title">Delete your account</h1>
  <p>This removes your account and signs out every session at once. It cannot be undone.</p>
  ${p.error ? html`<div class="flash error" role="alert">${p.error}</div>` : ''}
  <form method="post" action="/account/delete" class="stack">
    ${csrfField(v)}
    <label for="confirm">Type your email (<code>${p.email}</code>) to confirm</label>
    <input id="confirm" name="confirm" type="email" autocomplete="off" required>
    <button class="button danger" type="submit">Delete my account</button>
  </form>
  <p><a href="/account">Cancel</a></p>
</section>`;
}
