import { SessionManager, MemoryStore, type SessionManagerOptions, type SessionEvent, type SessionStore } from '../../src/index.js';
import { parseSetCookie } from '../../src/cookie/index.js';

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const OLD_SECRET = 'old-secret-0123456789-abcdefghijklmnopq';

export class FakeClock {
  constructor(public t = Date.UTC(2026, 0, 1)) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A manager on a MemoryStore with a fake clock and captured events. */
export function setup(over: Partial<SessionManagerOptions> = {}, clock = new FakeClock()) {
  const events: SessionEvent[] = [];
  const store: SessionStore = over.store ?? new MemoryStore({ clock: clock.now });
  const manager = new SessionManager<Record<string, any>>({
    store,
    secrets: [SECRET],
    clock: clock.now,
    onEvent: (e) => events.push(e),
    ...over,
  });
  return { clock, events, store, manager };
}

/** Cookie header value for the next request from a commit's headers (or the previous cookie). */
export function nextCookie(headers: Array<[string, string]>, prev = ''): string {
  for (const [k, v] of headers) {
    if (k !== 'set-cookie') continue;
    const c = parseSetCookie(v)!;
    if (c.attributes['max-age'] === '0') return '';
    return `${c.name}=${c.value}`;
  }
  return prev;
}

export function setCookies(headers: Array<[string, string]>) {
  return headers.filter(([k]) => k === 'set-cookie').map(([, v]) => parseSetCookie(v)!);
}
