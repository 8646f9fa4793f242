/** Page shell: header, navigation, the development-cookie banner, flash message and footer. */
import { html, type SafeHtml } from '../lib/html.js';
import type { User } from '../lib/accounts.js';
import type { Flash } from '../lib/state.js';

export interface ViewState {
  /** Masked synchronizer token for this render, or null on pages without forms. */
  csrf: string | null;
  user: User | null;
  flash: Flash | null;
  nav: string;
  insecureCookies: boolean;
  /** Time until the idle timeout as the server computed it (null when signed out). */
  remainingMs: number | null;
  warnMs: number;
  idleMs: number;
}

/** The hidden form field every state-changing form carries (SEC-22). */
export function csrfField(v: ViewState): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${v.csrf ?? ''}">`;
}

function navLink(v: ViewState, id: string, href: string, label: string): SafeHtml {
  return html`<a href="${href}"${v.nav === id ? html` aria-current="page"` : ''}>${label}</a>`;
}

export function layout(title: string, v: ViewState, body: SafeHtml): SafeHtml {
  const u = v.user;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · sessionward</title>
${v.csrf ? html`<meta name="csrf-token" content="${v.csrf}">` : ''}
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/session.js" type="module"></script>
</head>
<body data-signed-in="${u ? 'yes' : 'no'}" data-remaining-ms="${v.remainingMs ?? ''}" data-warn-ms="${v.warnMs}" data-idle-ms="${v.idleMs}">
<a class="skip" href="#main">Skip to content</a>
${v.insecureCookies
    ? html`<div class="dev-banner" role="note" data-testid="dev-banner"><strong>Development mode.</strong> Session cookies are sent over plain HTTP without <code>Secure</code> and without the <code>__Host-</code> prefix (<code>cookie: { insecureDevelopmentCookies: true }</code>). Start with <code>HTTPS=1</code> for production cookie settings.</div>`
    : ''}
<header class="top">
  <div class="wrap top-inner">
    <a class="brand" href="/"><img src="/static/favicon.svg" alt="" width="24" height="24"> sessionward <span class="muted">reference app</span></a>
    <nav aria-label="Main">
      ${u
        ? html`${navLink(v, 'account', '/account', 'Account')}${navLink(v, 'sessions', '/sessions', 'Sessions')}${navLink(v, 'security', '/security', 'How it is protected')}${u.role === 'admin' ? navLink(v, 'admin', '/admin', 'Dashboard') : ''}
          <form method="post" action="/signout" class="inline"><input type="hidden" name="_csrf" value="${v.csrf ?? ''}"><button class="link" type="submit" data-testid="signout">Sign out</button></form>`
        : html`${navLink(v, 'security', '/security', 'How it is protected')}${navLink(v, 'signin', '/signin', 'Sign in')}${navLink(v, 'signup', '/signup', 'Create account')}`}
    </nav>
  </div>
</header>
<main id="main" class="wrap">
${v.flash ? html`<div class="flash ${v.flash.kind}" role="status">${v.flash.text}</div>` : ''}
${body}
</main>
<footer class="wrap foot muted">Built on sessionward: server-side sessions, signed cookies, rotation on every privilege change. <a href="/security">What this app does to protect you</a>.</footer>
<div id="idle-dialog" class="idle" role="alertdialog" aria-modal="true" aria-labelledby="idle-title" aria-describedby="idle-text" hidden>
  <div class="idle-box">
    <h2 id="idle-title">Still there?</h2>
    <p id="idle-text">You will be signed out in <strong id="idle-countdown">—</strong> because of inactivity.</p>
    <div class="row"><button type="button" id="idle-stay" class="button">Stay signed in</button><button type="button" id="idle-leave" class="button secondary">Sign out now</button></div>
  </div>
</div>
</body>
</html>`;
}
