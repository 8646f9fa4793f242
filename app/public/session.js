/* global document, window, location, setInterval, clearInterval */
/*
 * The page side of the session, on the library's browser module (sessionward/client, served as
 * /static/sessionward-client.js): it owns the deadline, the warning, "stay signed in", the idle
 * sign-out and the cross-tab messages. This file only draws: the idle dialog, its countdown, and
 * an error when a sign-out did not go through.
 */
import { createSessionClient } from '/static/sessionward-client.js';

const body = document.body;
const signedIn = body.dataset.signedIn === 'yes';
const meta = document.querySelector('meta[name="csrf-token"]');
const dialog = document.getElementById('idle-dialog');
const countdown = document.getElementById('idle-countdown');
const stayButton = document.getElementById('idle-stay');
const leaveButton = document.getElementById('idle-leave');
const idleLeft = document.querySelector('.js-idle-left');
const SIGNOUT_FAILED = 'Signing out did not go through. Reload the page and try again.';

/** The token of the form being submitted, else the page's. */
let formToken = null;
const client = createSessionClient({
  ...(signedIn ? { remainingMs: Number(body.dataset.remainingMs || 0) } : {}),
  warnBeforeMs: Number(body.dataset.warnMs) || 60000,
  csrfToken: () => formToken ?? (meta ? meta.getAttribute('content') : ''),
  // The name the app has always used, so tabs opened before an upgrade still hear each other.
  channel: 'sessionward-session',
});

const fmt = (ms) => {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 120 ? `${Math.round(s / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
};

function render() {
  const left = client.remainingMs;
  if (left === null) return;
  if (countdown) countdown.textContent = fmt(left);
  if (idleLeft) idleLeft.textContent = fmt(left);
}

/** In the idle dialog while it is open (it covers the page), else at the top of the page. */
function showError(text) {
  const open = dialog && !dialog.hidden;
  const host = open ? dialog.querySelector('.idle-box') : document.getElementById('main');
  if (!host) return;
  let box = document.getElementById('signout-error');
  if (!box) {
    box = document.createElement('div');
    box.id = 'signout-error';
    box.className = 'flash error';
    box.setAttribute('role', 'alert');
  }
  host.prepend(box);
  box.textContent = text;
}

let leaving = false;
client.on('signed-out', (e) => {
  // A page without a session (sign-in, sign-up) has nothing to leave when another tab signs out.
  if (leaving || (e.fromOtherTab && !signedIn)) return;
  leaving = true;
  location.assign(`/signin?reason=${e.reason === 'idle' ? 'idle' : 'signed-out'}`);
});
// Not "try again" alone: a form token made stale by a re-authentication in another tab (new
// session, new token) stays refused until the page is loaded afresh, and a network error leaves
// the outcome unknown. The client announced nothing: other tabs stay.
client.on('signout-failed', () => showError(SIGNOUT_FAILED));
client.on('warning', () => {
  if (!dialog || !dialog.hidden) return;
  dialog.hidden = false;
  render();
  if (stayButton) stayButton.focus();
});
client.on('tick', render);
client.on('extended', () => {
  if (dialog) dialog.hidden = true;
  render();
});

// Sign-out from the menu (or "cancel" on the code page): with script, through the client, so this
// page knows whether the server really ended the session before the other tabs are told. Without
// script the form still posts and the server redirects as before.
let signingOut = false;
for (const form of document.querySelectorAll('form[action="/signout"]')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (signingOut) return;
    signingOut = true;
    const field = form.querySelector('input[name="_csrf"]');
    formToken = field ? field.value : '';
    const ok = await client.signOut('user');
    formToken = null;
    if (!ok) signingOut = false;
  });
}

if (signedIn) {
  if (stayButton) stayButton.addEventListener('click', () => void client.stay());
  if (leaveButton) leaveButton.addEventListener('click', () => void client.signOut('user'));
  render();
  const ticker = setInterval(render, 1000);
  window.addEventListener('pagehide', () => clearInterval(ticker));
}
