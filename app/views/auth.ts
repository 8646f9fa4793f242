/** Sign-in, sign-up, second-factor and step-up pages. */
import { html, type SafeHtml } from '../lib/html.js';
import { csrfField, type ViewState } from './layout.js';

export interface AuthPageProps {
  email?: string;
  error?: string | null;
  info?: string | null;
  demoEmail?: string | null;
}

function messages(p: AuthPageProps): SafeHtml {
  return html`${p.error ? html`<div class="flash error" role="alert" data-testid="form-error">${p.error}</div>` : ''}${p.info ? html`<div class="flash info" role="status">${p.info}</div>` : ''}`;
}

function intro(demoEmail: string | null | undefined): SafeHtml {
  return html`<div class="hero">
    <h2>Sessions you can see into</h2>
    <p class="lead">This reference app runs on <strong>sessionward</strong>. Sign in and watch what a secure session does: a new token at every privilege change, idle and absolute timeouts enforced by the server, a list of your devices you can sign out, step-up for sensitive changes, CSRF checks on every form.</p>
    <ul class="checks">
      <li>Token only in an HttpOnly cookie, never in a page or URL</li>
      <li>Optional second factor (TOTP, any authenticator app)</li>
      <li>Security dashboard with live events for administrators</li>
    </ul>
    ${demoEmail ? html`<p class="muted small">Demo administrator: <code>${demoEmail}</code> — its password is printed in the terminal that runs <code>npm start</code>.</p>` : ''}
  </div>`;
}

/**
 * The form comes before the introduction, so on a phone it is the first thing on the page, and its
 * heading is the page's h1 (the introduction's is an h2 that looks like the old h1) (issue 16).
 */
export function signinPage(v: ViewState, p: AuthPageProps): SafeHtml {
  return html`<div class="split">
  <section class="card auth" aria-labelledby="signin-title">
    <h1 id="signin-title">Sign in</h1>
    ${messages(p)}
    <form method="post" action="/signin" class="stack">
      ${csrfField(v)}
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required value="${p.email ?? ''}" autofocus>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button class="button" type="submit">Sign in</button>
    </form>
    <p class="muted small">No account yet? <a href="/signup">Create one</a>.</p>
  </section>
  ${intro(p.demoEmail)}
</div>`;
}

export function signupPage(v: ViewState, p: AuthPageProps): SafeHtml {
  return html`<div class="split">
  <section class="card auth" aria-labelledby="signup-title">
    <h1 id="signup-title">Create an account</h1>
    ${messages(p)}
    <form method="post" action="/signup" class="stack">
      ${csrfField(v)}
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required value="${p.email ?? ''}" autofocus>
      <label for="password">Password <span class="muted small">(at least 10 characters)</span></label>
      <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required>
      <label for="confirm">Repeat the password</label>
      <input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="10" required>
      <button class="button" type="submit">Create account</button>
    </form>
    <p class="muted small">Already registered? <a href="/signin">Sign in</a>.</p>
  </section>
  ${intro(p.demoEmail)}
</div>`;
}

export function totpPage(v: ViewState, p: AuthPageProps): SafeHtml {
  return html`<section class="card narrow" aria-labelledby="totp-title">
  <h1 id="totp-title">Second step</h1>
  <p>Your password was right. Enter the 6-digit code from your authenticator app to finish signing in. Until then this session can reach nothing that needs an account.</p>
  ${messages(p)}
  <form method="post" action="/signin/2fa" class="stack">
    ${csrfField(v)}
    <label for="code">Authentication code</label>
    <input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>
    <button class="button" type="submit">Verify</button>
  </form>
  <form method="post" action="/signout" class="inline">${csrfField(v)}<button class="link" type="submit">Cancel and sign out</button></form>
</section>`;
}

export function reauthPage(v: ViewState, p: AuthPageProps & { next: string; needsCode: boolean }): SafeHtml {
  return html`<section class="card narrow" aria-labelledby="reauth-title">
  <h1 id="reauth-title">Confirm it is you</h1>
  <p>This change needs a recent sign-in. Enter your password${p.needsCode ? ' and a code from your authenticator app' : ''} to continue. Your session gets a new token afterwards.</p>
  ${messages(p)}
  <form method="post" action="/reauth" class="stack">
    ${csrfField(v)}
    <input type="hidden" name="next" value="${p.next}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
    ${p.needsCode
      ? html`<label for="code">Authentication code</label><input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>`
      : ''}
    <button class="button" type="submit">Continue</button>
  </form>
  <p><a href="/account">Cancel</a></p>
</section>`;
}
