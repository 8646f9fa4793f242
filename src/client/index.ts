/**
 * `sessionward/client`: the browser side of a session, framework-free, no dependencies.
 *
 * The server decides when a session ends; this module mirrors it for the person at the keyboard:
 * - an expiry warning with a countdown (`warning`, then `tick` every second) before the idle deadline,
 *   `stay()` to keep the session (a POST the server counts as activity);
 * - idle sign-out at the deadline, after asking the server first (another tab or device may have
 *   kept the session alive);
 * - every tab on one deadline, and sign-in/sign-out followed by every tab (BroadcastChannel). A
 *   sign-out is announced only after the server answered 2xx: announced earlier, other tabs would
 *   leave while the session still works;
 * - `fetch()` that adds the CSRF header on unsafe methods and turns the server's typed refusals
 *   into events: `reauth-required` (ERR_REAUTH_REQUIRED), `superseded` (ERR_SESSION_SUPERSEDED),
 *   `unauthenticated` (any other 401).
 *
 * Server contract (the reference app implements it): `GET statusUrl` → `{ signedIn, remainingMs }`;
 * `POST keepaliveUrl` → `{ remainingMs }`; `POST signOutUrl` → 2xx once the session is gone. Each
 * POST carries the CSRF header.
 *
 * @example
 * import { createSessionClient } from 'sessionward/client'
 * const client = createSessionClient({ remainingMs: Number(document.body.dataset.remainingMs), csrfToken: meta.content })
 * client.on('warning', ({ remainingMs }) => dialog.show(remainingMs))
 * client.on('signed-out', () => location.assign('/signin'))
 * const r = await client.fetch('/api/transfer', { method: 'POST', body })
 */

export type SessionClientEvent =
  | { type: 'warning'; remainingMs: number }
  | { type: 'tick'; remainingMs: number }
  | { type: 'extended'; remainingMs: number; fromOtherTab: boolean }
  | { type: 'signed-out'; reason: 'idle' | 'user' | 'ended'; fromOtherTab: boolean }
  | { type: 'signed-in'; fromOtherTab: boolean }
  | { type: 'signout-failed' }
  | { type: 'reauth-required'; response: Response }
  | { type: 'superseded'; response: Response }
  | { type: 'unauthenticated'; response: Response };

type EventOf<T extends SessionClientEvent['type']> = Extract<SessionClientEvent, { type: T }>;

export interface SessionClientOptions {
  /** Time left until the idle deadline when the page was rendered, ms; omit when signed out. */
  remainingMs?: number;
  /** Warn this long before the deadline (default 60 s). */
  warnBeforeMs?: number;
  statusUrl?: string;
  keepaliveUrl?: string;
  signOutUrl?: string;
  /** The session's CSRF token, or a function returning the current one. */
  csrfToken?: string | (() => string | null | undefined);
  /** Header the token travels in (default `x-csrf-token`). */
  csrfHeader?: string;
  /** BroadcastChannel name shared by the tabs (default `sessionward`). */
  channel?: string;
  /** Sign out at the idle deadline (default true); false only reports `signed-out` reason `ended`. */
  autoSignOut?: boolean;
  fetch?: typeof fetch;
}

export interface SessionClient {
  on<T extends SessionClientEvent['type']>(type: T, fn: (e: EventOf<T>) => void): () => void;
  /** `fetch` with credentials, the CSRF header on unsafe methods, and typed refusals as events. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Keep the session alive now; true when the server extended it. */
  stay(): Promise<boolean>;
  /** Sign out on the server; other tabs follow only when it answered 2xx. */
  signOut(reason?: 'user' | 'idle'): Promise<boolean>;
  /** Tell the other tabs this one signed in (call after a successful sign-in). */
  announceSignIn(): void;
  /** Set the deadline from a fresh server answer (e.g. after your own request), ms from now. */
  setRemaining(remainingMs: number): void;
  /** Milliseconds left, or null when not signed in. */
  readonly remainingMs: number | null;
  close(): void;
}

const UNSAFE = /^(POST|PUT|PATCH|DELETE)$/i;

type Message = { type: 'deadline'; deadline: number } | { type: 'signout'; reason: 'idle' | 'user' | 'ended' } | { type: 'signin' };

export function createSessionClient(options: SessionClientOptions = {}): SessionClient {
  const o = {
    warnBeforeMs: 60_000,
    statusUrl: '/session/status',
    keepaliveUrl: '/session/keepalive',
    signOutUrl: '/signout',
    csrfHeader: 'x-csrf-token',
    channel: 'sessionward',
    autoSignOut: true,
    ...options,
  };
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const listeners = new Map<string, Set<(e: SessionClientEvent) => void>>();
  const bc = typeof BroadcastChannel === 'function' ? new BroadcastChannel(o.channel) : null;
  let deadline: number | null = typeof o.remainingMs === 'number' && o.remainingMs > 0 ? Date.now() + o.remainingMs : null;
  let warnTimer: ReturnType<typeof setTimeout> | undefined;
  let endTimer: ReturnType<typeof setTimeout> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let ended = false;
  let closed = false;

  const emit = (e: SessionClientEvent) => {
    for (const fn of listeners.get(e.type) ?? []) {
      try {
        fn(e);
      } catch {
        // One listener's bug must not stop the others (or the sign-out).
      }
    }
  };
  const post = (m: Message) => bc?.postMessage(m);
  const token = () => (typeof o.csrfToken === 'function' ? o.csrfToken() : o.csrfToken) ?? '';
  const left = () => (deadline === null ? null : Math.max(0, deadline - Date.now()));

  function clearTimers() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    clearInterval(ticker);
    ticker = undefined;
  }

  function schedule(next: number, tellOthers: boolean) {
    if (closed) return;
    deadline = next;
    ended = false;
    clearTimers();
    const now = Date.now();
    warnTimer = setTimeout(() => {
      emit({ type: 'warning', remainingMs: left() ?? 0 });
      ticker = setInterval(() => emit({ type: 'tick', remainingMs: left() ?? 0 }), 1000);
    }, Math.max(0, next - o.warnBeforeMs - now));
    // A little after the server's deadline, so the server has really ended the session.
    endTimer = setTimeout(() => void atDeadline(), Math.max(0, next - now + 300));
    if (tellOthers) post({ type: 'deadline', deadline: next });
  }

  function finish(reason: 'idle' | 'user' | 'ended', fromOtherTab: boolean) {
    if (ended) return;
    ended = true;
    deadline = null;
    clearTimers();
    emit({ type: 'signed-out', reason, fromOtherTab });
  }

  async function atDeadline() {
    try {
      const r = await doFetch(o.statusUrl, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      const j = (await r.json()) as { signedIn?: boolean; remainingMs?: number };
      if (j.signedIn && typeof j.remainingMs === 'number' && j.remainingMs > 1500) return schedule(Date.now() + j.remainingMs, true);
    } catch {
      // No answer: treat the session as over, the server ends idle sessions by itself anyway.
    }
    if (o.autoSignOut) {
      if (await signOutOnServer('idle')) post({ type: 'signout', reason: 'idle' });
      finish('idle', false);
    } else finish('ended', false);
  }

  async function signOutOnServer(reason: 'idle' | 'user'): Promise<boolean> {
    try {
      const r = await doFetch(o.signOutUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', [o.csrfHeader]: token() },
        body: JSON.stringify({ reason }),
      });
      return r.ok;
    } catch {
      return false;
    }
  }

  if (bc) {
    bc.onmessage = (m: MessageEvent<Message>) => {
      const d = m.data;
      if (!d || typeof d !== 'object') return;
      if (d.type === 'deadline' && typeof d.deadline === 'number') {
        schedule(d.deadline, false);
        emit({ type: 'extended', remainingMs: left() ?? 0, fromOtherTab: true });
      } else if (d.type === 'signout') finish(d.reason === 'idle' ? 'idle' : d.reason === 'ended' ? 'ended' : 'user', true);
      else if (d.type === 'signin') emit({ type: 'signed-in', fromOtherTab: true });
    };
  }
  // This page load was activity: every open tab moves to the new deadline.
  if (deadline !== null) schedule(deadline, true);

  return {
    on(type, fn) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(fn as (e: SessionClientEvent) => void);
      return () => set!.delete(fn as (e: SessionClientEvent) => void);
    },
    async fetch(input, init = {}) {
      const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
      const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
      if (UNSAFE.test(method) && !headers.has(o.csrfHeader)) headers.set(o.csrfHeader, token());
      const r = await doFetch(input, { credentials: 'same-origin', ...init, headers });
      if (r.status === 401 || r.status === 409) {
        let code: unknown;
        try {
          code = ((await r.clone().json()) as { error?: unknown }).error;
        } catch {
          code = undefined;
        }
        if (code === 'ERR_REAUTH_REQUIRED') emit({ type: 'reauth-required', response: r });
        else if (code === 'ERR_SESSION_SUPERSEDED') emit({ type: 'superseded', response: r });
        else if (r.status === 401) emit({ type: 'unauthenticated', response: r });
      }
      return r;
    },
    async stay() {
      try {
        const r = await doFetch(o.keepaliveUrl, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/json', accept: 'application/json', [o.csrfHeader]: token() },
          body: '{}',
        });
        if (!r.ok) {
          finish('ended', false);
          return false;
        }
        const j = (await r.json()) as { remainingMs?: number };
        if (typeof j.remainingMs !== 'number') return false;
        schedule(Date.now() + j.remainingMs, true);
        emit({ type: 'extended', remainingMs: j.remainingMs, fromOtherTab: false });
        return true;
      } catch {
        return false; // offline: keep the current deadline, the server decides anyway
      }
    },
    async signOut(reason = 'user') {
      const ok = await signOutOnServer(reason);
      if (!ok) {
        emit({ type: 'signout-failed' });
        return false;
      }
      post({ type: 'signout', reason });
      finish(reason, false);
      return true;
    },
    announceSignIn() {
      post({ type: 'signin' });
    },
    setRemaining(ms) {
      schedule(Date.now() + ms, true);
    },
    get remainingMs() {
      return left();
    },
    close() {
      closed = true;
      clearTimers();
      bc?.close();
      listeners.clear();
    },
  };
}
