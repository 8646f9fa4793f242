/* global document, window, fetch, BroadcastChannel, setTimeout, clearTimeout, setInterval, clearInterval, location */
/*
 * Idle timeout in the browser. The server decides when a session ends; this script only mirrors
 * it: it warns before the idle timeout, offers "stay signed in" (a POST that writes activity),
 * signs out at the deadline, and keeps every tab on the same deadline with a BroadcastChannel.
 */
(() => {
  'use strict';
  const body = document.body;
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel('sessionward-session') : null;
  const signedIn = body.dataset.signedIn === 'yes';

  /**
   * POST /signout and resolve true only once the server has answered that the session is gone.
   * Only then are the other tabs told: announced earlier, they would leave while the session still
   * works, or leave for a sign-out that failed (and a network error leaves it unknown, so no).
   */
  async function signOutOnServer(token, reason) {
    try {
      const r = await fetch('/signout', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': token },
        body: JSON.stringify({ reason: reason === 'idle' ? 'idle' : 'user' }),
      });
      return r.ok;
    } catch {
      return false;
    }
  }

  function announceSignout(reason) {
    if (channel) channel.postMessage({ type: 'signout', reason });
  }

  /** In the idle dialog while it is open (it covers the page), else at the top of the page. */
  function showError(text) {
    const open = document.getElementById('idle-dialog');
    const host = open && !open.hidden ? open.querySelector('.idle-box') : document.getElementById('main');
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

  const SIGNOUT_FAILED = 'Signing out did not go through. Reload the page and try again.';

  // Sign-out from the menu (or "cancel" on the code page): with script, a fetch, so this page knows
  // whether the server really ended the session before it tells the other tabs. Without script the
  // form still posts and the server redirects as before.
  let signingOut = false;
  for (const form of document.querySelectorAll('form[action="/signout"]')) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (signingOut) return;
      signingOut = true;
      const field = form.querySelector('input[name="_csrf"]');
      if (await signOutOnServer(field ? field.value : '', 'signed-out')) {
        announceSignout('signed-out');
        location.assign('/signin?reason=signed-out');
        return;
      }
      signingOut = false;
      // Not "try again" alone: a form token made stale by a re-authentication in another tab (new
      // session, new token) stays refused until the page is loaded afresh, and a network error
      // leaves the outcome unknown.
      showError(SIGNOUT_FAILED);
    });
  }
  if (!signedIn) return;

  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute('content') : '';
  const warnMs = Number(body.dataset.warnMs) || 60000;
  const dialog = document.getElementById('idle-dialog');
  const countdown = document.getElementById('idle-countdown');
  const stayButton = document.getElementById('idle-stay');
  const leaveButton = document.getElementById('idle-leave');
  const idleLeft = document.querySelector('.js-idle-left');
  let deadline = Date.now() + Number(body.dataset.remainingMs || 0);
  let warnTimer = 0;
  let endTimer = 0;
  let ticker = 0;
  let leaving = false;

  const fmt = (ms) => {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return s >= 120 ? `${Math.round(s / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  };

  function render() {
    const left = deadline - Date.now();
    if (countdown) countdown.textContent = fmt(left);
    if (idleLeft) idleLeft.textContent = fmt(left);
  }

  function schedule(next, tellOthers) {
    deadline = next;
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    hideWarning();
    warnTimer = setTimeout(showWarning, Math.max(0, deadline - warnMs - Date.now()));
    // A little after the server's deadline, so the server has really ended the session.
    endTimer = setTimeout(expire, Math.max(0, deadline - Date.now() + 300));
    if (tellOthers && channel) channel.postMessage({ type: 'deadline', deadline });
    render();
  }

  function showWarning() {
    if (!dialog || !dialog.hidden) return;
    dialog.hidden = false;
    render();
    if (stayButton) stayButton.focus();
  }

  function hideWarning() {
    if (dialog) dialog.hidden = true;
  }

  async function stay() {
    try {
      const r = await fetch('/session/keepalive', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
        body: '{}',
      });
      if (!r.ok) return leave('ended');
      const j = await r.json();
      schedule(Date.now() + j.remainingMs, true);
    } catch {
      // Offline: keep the current deadline; the server decides anyway.
    }
  }

  async function expire() {
    // Another tab or device may have kept the session alive: ask before signing out.
    try {
      const r = await fetch('/session/status', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      const j = await r.json();
      if (j.signedIn && j.remainingMs > 1500) return schedule(Date.now() + j.remainingMs, true);
    } catch {
      // Fall through: without an answer, treat the session as over.
    }
    leave('idle');
  }

  async function leave(reason) {
    if (leaving) return;
    leaving = true;
    // Other tabs follow only a confirmed sign-out. At the idle deadline (or once keepalive found
    // the session gone) this tab leaves anyway: the server ends an idle session by itself, and the
    // others find out on their next request or at their own deadline. "Sign out now" that failed
    // stays put and says so: leaving would land on /account again, still signed in, unannounced.
    if (await signOutOnServer(csrf, reason)) announceSignout(reason);
    else if (reason === 'signed-out') {
      leaving = false;
      showError(SIGNOUT_FAILED);
      return;
    }
    location.assign(`/signin?reason=${reason === 'idle' ? 'idle' : 'signed-out'}`);
  }

  if (channel) {
    channel.onmessage = (m) => {
      const d = m.data || {};
      if (d.type === 'deadline' && typeof d.deadline === 'number') schedule(d.deadline, false);
      if (d.type === 'signout' && !leaving) {
        leaving = true;
        location.assign(`/signin?reason=${d.reason === 'idle' ? 'idle' : 'signed-out'}`);
      }
    };
  }
  if (stayButton) stayButton.addEventListener('click', stay);
  if (leaveButton) leaveButton.addEventListener('click', () => leave('signed-out'));
  // This page load was activity: every open tab moves to the new deadline.
  schedule(deadline, true);
  ticker = setInterval(render, 1000);
  window.addEventListener('pagehide', () => clearInterval(ticker));
})();
