/** "How this app protects you": every control the app applies, with the values it actually uses. */
import { html, type SafeHtml } from '../lib/html.js';
import type { ViewState } from './layout.js';
import { duration } from './format.js';

export interface SecurityFacts {
  cookie: { name: string; attributes: Record<string, string | true> } | null;
  expectedName: string;
  https: boolean;
  store: string;
  /** Only for administrators (null otherwise): a file path or host names are nobody else's business. */
  storeLocation: string | null;
  keyCount: number;
  idleMs: number;
  absoluteMs: number;
  touchAfterMs: number;
  warnMs: number;
  stepUpMs: number;
  origins: string[];
  rate: { accountMax: number; ipMax: number; windowMs: number; untrustedMax: number; signupMax?: number };
  scryptLogN: number;
}

/** parseSetCookie lower-cases attribute names; show them as the server wrote them. */
const CANONICAL: Record<string, string> = {
  path: 'Path',
  domain: 'Domain',
  secure: 'Secure',
  httponly: 'HttpOnly',
  samesite: 'SameSite',
  'max-age': 'Max-Age',
  expires: 'Expires',
  partitioned: 'Partitioned',
  priority: 'Priority',
};

function yes(ok: boolean, text: string, why: string): SafeHtml {
  return html`<tr><td><span class="dot ${ok ? 'ok' : 'bad'}"></span>${text}</td><td class="small">${why}</td></tr>`;
}

export function securityPage(_v: ViewState, f: SecurityFacts): SafeHtml {
  const a = f.cookie?.attributes ?? {};
  const seen = f.cookie !== null;
  return html`<h1>How this app protects your session</h1>
<p class="lead">Each protection below is live in this app, with the values it actually uses. The ids (SEC-n) point to the requirement list in sessionward's <code>docs/security.md</code>.</p>

<section class="card" aria-labelledby="s-cookie">
  <h2 id="s-cookie">The session cookie <span class="muted small">SEC-4, 5, 6, 8, 13</span></h2>
  <p>${seen
    ? html`As last sent by this server: <code data-testid="cookie-header">${f.cookie!.name}=<em>token</em>${Object.entries(a).map(([k, v]) => `; ${CANONICAL[k] ?? k}${v === true ? '' : `=${v}`}`)}</code>`
    : html`No session cookie has been sent yet since the server started; it will be named <code>${f.expectedName}</code>.`}</p>
  <table class="table compact"><tbody>
    ${yes(a.httponly === true || !seen, 'HttpOnly', 'Page scripts cannot read the token, so an injected script cannot steal it.')}
    ${yes(a.secure === true, 'Secure', f.https ? 'Only sent over HTTPS.' : 'Off in development mode (plain HTTP on localhost). Start with HTTPS=1 to see it on.')}
    ${yes(typeof a.samesite === 'string' || !seen, `SameSite=${typeof a.samesite === 'string' ? a.samesite : 'Lax'}`, 'Not sent with cross-site form posts, images or frames: the first CSRF barrier.')}
    ${yes((f.cookie?.name ?? f.expectedName).startsWith('__Host-'), '__Host- prefix', f.https ? 'Locked to this host: no Domain, Path=/ and Secure, so a sibling subdomain cannot set or shadow it.' : 'Needs Secure, so it is off in development mode.')}
    ${yes(a.expires === undefined && a['max-age'] === undefined, 'No Expires / Max-Age', 'A browser-session cookie; expiry is enforced by the server, never by the cookie (SEC-13).')}
  </tbody></table>
  <p class="small">The cookie holds a 256-bit random token plus an HMAC-SHA-256 tag (${f.keyCount} ${f.keyCount === 1 ? 'key' : 'keys'} in the ring; the newest signs). A forged or altered cookie is refused before the store is asked. The token never appears in a page, a URL or a log; the store (<strong>${f.store}</strong>${f.storeLocation ? html` at <code data-testid="store-location">${f.storeLocation}</code>, shown to administrators only` : ''}) keeps only its SHA-256 (SEC-21). Responses that set it carry <code>Cache-Control: no-store</code>.</p>
</section>

<div class="grid">
  <section class="card" aria-labelledby="s-time">
    <h2 id="s-time">Timeouts <span class="muted small">SEC-11, 19</span></h2>
    <dl class="facts">
      <dt>Idle timeout</dt><dd>${duration(f.idleMs)} without a request ends the session on the server.</dd>
      <dt>Absolute timeout</dt><dd>${duration(f.absoluteMs)} after sign-in, whatever the activity.</dd>
      <dt>Activity written</dt><dd>at most every ${duration(f.touchAfterMs)}; a session may end that much early, never late.</dd>
      <dt>Browser warning</dt><dd>${duration(f.warnMs)} before the idle timeout, with a "stay signed in" button; all your tabs follow the same clock and sign out together.</dd>
    </dl>
  </section>
  <section class="card" aria-labelledby="s-rot">
    <h2 id="s-rot">A new token at every privilege change <span class="muted small">SEC-15, 16, 18</span></h2>
    <p>The token is replaced at sign-in, after the second factor, at re-authentication, on a role change, after turning two-step verification on or off, and after a password change. A token issued before sign-in can never become a signed-in token (session fixation). Your account page shows the token generation and a fingerprint that change each time. The previous token keeps working for 10 seconds only, so requests already in flight do not fail.</p>
  </section>
  <section class="card" aria-labelledby="s-mfa">
    <h2 id="s-mfa">Half-signed-in is not signed in <span class="muted small">SEC-17</span></h2>
    <p>With two-step verification on, a correct password gives a session that can reach only the code page. Every other page answers 401 (or sends you to the code page) until the code is right. Codes are TOTP (RFC 6238, 30 s, 6 digits); a code is accepted once only.</p>
  </section>
  <section class="card" aria-labelledby="s-step">
    <h2 id="s-step">Step-up for sensitive changes <span class="muted small">SEC-14</span></h2>
    <p>Changing the password, turning two-step verification on or off and deleting the account need a sign-in within the last ${duration(f.stepUpMs)}. Otherwise the app asks for the password again (and a code, if two-step verification is on), and issues a new token.</p>
  </section>
  <section class="card" aria-labelledby="s-csrf">
    <h2 id="s-csrf">Cross-site request forgery <span class="muted small">SEC-22, 24, 25, 26</span></h2>
    <ul class="plain">
      <li><strong>Fetch Metadata:</strong> a state-changing request the browser marks <code>Sec-Fetch-Site: cross-site</code> is refused with 403.</li>
      <li><strong>Origin check:</strong> without Fetch Metadata, <code>Origin</code> (or <code>Referer</code>) must be exactly ${f.origins.length ? f.origins.map((o, i) => html`${i ? ' or ' : ''}<code>${o}</code>`) : 'this site'}.</li>
      <li><strong>Synchronizer token:</strong> every form carries a per-session token (re-masked on every page), compared in constant time. The sign-in form has one too (login CSRF).</li>
      <li><strong>SameSite=Lax</strong> keeps the cookie off cross-site posts in the first place.</li>
    </ul>
  </section>
  <section class="card" aria-labelledby="s-rate">
    <h2 id="s-rate">Guessing and forging <span class="muted small">SEC-42</span></h2>
    <p>Guessing slows the guesser, not the owner. After ${f.rate.accountMax} failed sign-ins for one account from one address, that address waits 30 s, then twice as long after each further failure (at most ${duration(f.rate.windowMs)}), and answers 429; ${f.rate.ipMax} failures from one address across accounts hold it for ${duration(f.rate.windowMs)}. A browser that signed in to the account before carries a signed device cookie and is throttled only on its own failures, so nobody can lock you out of your account by guessing at your email; if many addresses guess at once (${f.rate.untrustedMax} failures), only browsers the account was never used on have to wait. Passwords are hashed with scrypt (N=2<sup>${f.scryptLogN}</sup>, r=8, p=1, a salt per user) and compared in constant time; an unknown email costs the same time as a known one. Signing up does not tell whether an email is registered either: a free and a registered email get the same answer after the same work, nobody is signed in by it, and one address may try ${f.rate.signupMax ?? 10} sign-ups per ${duration(f.rate.windowMs)}. Many forged session cookies from one address raise an alert.</p>
  </section>
  <section class="card" aria-labelledby="s-dev">
    <h2 id="s-dev">Your devices <span class="muted small">SEC-36, 38, 39</span></h2>
    <p>The sessions page lists every signed-in device with its browser, address and times. You can sign out one, all others, or all. Signing out deletes the session on the server and clears the cookie. A password change offers to sign out the other devices; deleting the account ends them all.</p>
  </section>
  <section class="card" aria-labelledby="s-risk">
    <h2 id="s-risk">Risk signals and logs <span class="muted small">SEC-35, 40, 41</span></h2>
    <p>If a session's IP address or browser changes after sign-in, a risk event is recorded and shown on your account page; it never signs you out on its own. Every security event goes to the audit log with a keyed hash of the session id — never a token — and to the administrators' dashboard and <code>/metrics</code>.</p>
  </section>
  <section class="card" aria-labelledby="s-headers">
    <h2 id="s-headers">Response headers</h2>
    <p>A strict Content-Security-Policy (scripts and styles from this site only, no inline code), <code>X-Frame-Options: DENY</code> and <code>frame-ancestors 'none'</code> against click-jacking, <code>nosniff</code>, <code>Referrer-Policy: same-origin</code> and <code>Cross-Origin-Opener-Policy</code>. HSTS is left to the production proxy: on <code>localhost</code> it would pin every other local app to HTTPS.</p>
  </section>
</div>`;
}
