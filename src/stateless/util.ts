// Internal helpers shared by the stateless modules; not exported from the package entry points.
import type { StatelessEvent } from './events.js';

type WithoutAt<E> = E extends unknown ? Omit<E, 'at'> : never;

/** Strict base64url alphabet check: Node's decoder silently skips junk, so we refuse it first. */
export const B64URL_RE = /^[A-Za-z0-9_-]*$/;

export function isB64Url(s: string): boolean {
  return B64URL_RE.test(s);
}

/** Parse JSON from client input without ever throwing; only plain objects are accepted. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Call the application's event hook; a throwing hook must never break a request. */
export function emit(onEvent: ((e: StatelessEvent) => void) | undefined, e: WithoutAt<StatelessEvent>): void {
  if (!onEvent) return;
  try {
    onEvent({ ...e, at: new Date().toISOString() } as StatelessEvent);
  } catch {
    // Observability must not change behaviour.
  }
}
